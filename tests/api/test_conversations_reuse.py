""""Start chat" reopens an empty conversation (``reuse_empty``) instead of piling up new ones."""

from __future__ import annotations

import httpx

from agentcreator.state import AppState
from tests.api.test_assistants_factories import add_messages, get_json, make_assistant, make_conversation
from tests.conftest import UserSession


async def test_reuse_empty_reopens_the_untouched_conversation(client: httpx.AsyncClient, alice: UserSession) -> None:
    assistant = await make_assistant(alice)
    first = await make_conversation(alice, assistant["id"], reuse_empty=True)
    again = await make_conversation(alice, assistant["id"], reuse_empty=True)
    assert again["id"] == first["id"]
    assert again["last_activity_at"] >= first["last_activity_at"]
    page = await get_json(client, alice, "/api/conversations")
    assert page["count"] == 1
    # Without the flag a new thread is still a new conversation.
    plain = await make_conversation(alice, assistant["id"])
    assert plain["id"] != first["id"]


async def test_reuse_empty_skips_used_archived_and_other_assistants(client: httpx.AsyncClient, alice: UserSession,
                                                                    app_state: AppState) -> None:
    assistant = await make_assistant(alice)
    other = await make_assistant(alice, name="Other")
    used = await make_conversation(alice, assistant["id"], reuse_empty=True)
    await add_messages(app_state, used["id"], "hello", "hi")
    fresh = await make_conversation(alice, assistant["id"], reuse_empty=True)
    assert fresh["id"] != used["id"]
    archived = await client.patch(f"/api/conversations/{fresh['id']}", json={"archived": True}, headers=alice.headers)
    assert archived.status_code == 200
    newer = await make_conversation(alice, assistant["id"], reuse_empty=True)
    assert newer["id"] not in {used["id"], fresh["id"]}
    with_other = await make_conversation(alice, other["id"], reuse_empty=True)
    assert with_other["id"] != newer["id"] and with_other["assistant_id"] == other["id"]
    # A titled start is always a new conversation.
    titled = await make_conversation(alice, assistant["id"], title="Plans", reuse_empty=True)
    assert titled["id"] != newer["id"]
    assert (await get_json(client, alice, f"/api/conversations/{used['id']}"))["message_count"] == 2


async def test_reuse_empty_never_reaches_another_users_conversation(client: httpx.AsyncClient, alice: UserSession,
                                                                    bob: UserSession) -> None:
    assistant = await make_assistant(alice)
    mine = await make_conversation(alice, assistant["id"], reuse_empty=True)
    refused = await client.post("/api/conversations", json={"assistant_id": assistant["id"], "reuse_empty": True},
                                headers=bob.headers)
    assert refused.status_code == 404
    bobs = await make_conversation(bob, (await make_assistant(bob))["id"], reuse_empty=True)
    assert bobs["id"] != mine["id"]
    assert (await get_json(client, bob, "/api/conversations"))["count"] == 1
    assert (await get_json(client, alice, f"/api/conversations/{mine['id']}")) == mine


async def test_reuse_empty_must_be_a_boolean(client: httpx.AsyncClient, alice: UserSession) -> None:
    assistant = await make_assistant(alice)
    response = await client.post("/api/conversations", json={"assistant_id": assistant["id"], "reuse_empty": "yes"},
                                 headers=alice.headers)
    assert response.status_code == 422
    assert (await get_json(client, alice, "/api/conversations"))["count"] == 0
