"""Every resource, every verb: another user (bob) cannot see or touch alice's assistants, conversations
or messages. Bob gets exactly what he would get for an id that does not exist, and alice's data is
unchanged afterwards (re-read as alice and compared). Unauthenticated calls are 401."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agentcreator.state import AppState
from tests.api.test_assistants import FULL
from tests.api.test_assistants_factories import add_messages, get_json, make_assistant, make_conversation
from tests.conftest import UserSession

MISSING = "0" * 32


@pytest.fixture
async def world(alice: UserSession, bob: UserSession, app_state: AppState) -> dict[str, str]:
    helper = await make_assistant(alice, name="Alice helper", tags=["secret"])
    assistant = await make_assistant(alice, **{**FULL, "name": "Alice private", "tags": ["secret"], "tools": [
        *FULL["tools"], {"type": "assistant", "assistant_id": helper["id"]}]})
    conversation = await make_conversation(alice, assistant["id"], title="Alice secret thread")
    await add_messages(app_state, conversation["id"], "my secret question", "the answer")
    archived = await make_conversation(alice, helper["id"], title="Alice archived secret")
    await alice.client.patch(f"/api/conversations/{archived['id']}", json={"archived": True},
                             headers=alice.headers)
    own = await make_assistant(bob, name="Bob's own")
    own_conversation = await make_conversation(bob, own["id"], title="Bob's thread")
    return {"assistant": assistant["id"], "helper": helper["id"], "conversation": conversation["id"],
            "archived": archived["id"], "bob_assistant": own["id"], "bob_conversation": own_conversation["id"]}


async def snapshot(client: httpx.AsyncClient, user: UserSession, world: dict[str, str]) -> dict[str, Any]:
    """Everything alice can read about her own data."""
    assistants = await get_json(client, user, "/api/assistants")
    conversations = await get_json(client, user, "/api/conversations", archived="all")
    state: dict[str, Any] = {"assistants": assistants, "conversations": conversations}
    for a in assistants["data"]:
        state[a["id"]] = await get_json(client, user, f"/api/assistants/{a['id']}")
    for c in conversations["data"]:
        state[c["id"]] = await get_json(client, user, f"/api/conversations/{c['id']}")
        state[c["id"] + "/messages"] = await get_json(client, user, f"/api/conversations/{c['id']}/messages")
    assert {world["assistant"], world["helper"], world["conversation"], world["archived"]} <= set(state)
    return state


# (case id, method, path, JSON body). Ids in braces are filled from the `world` fixture.
DIRECT = [
    ("assistants_get", "GET", "/api/assistants/{assistant}", None),
    ("assistants_update", "PATCH", "/api/assistants/{assistant}", {"name": "pwned"}),
    ("assistants_update_empty", "PATCH", "/api/assistants/{assistant}", {}),
    ("assistants_delete", "DELETE", "/api/assistants/{assistant}", None),
    ("assistants_duplicate", "POST", "/api/assistants/{assistant}/duplicate", None),
    ("assistants_export", "GET", "/api/assistants/{assistant}/export", None),
    ("conversations_create", "POST", "/api/conversations", {"assistant_id": "{assistant}"}),
    ("conversations_get", "GET", "/api/conversations/{conversation}", None),
    ("conversations_get_archived", "GET", "/api/conversations/{archived}", None),
    ("conversations_update", "PATCH", "/api/conversations/{conversation}", {"title": "pwned", "archived": True}),
    ("conversations_delete", "DELETE", "/api/conversations/{conversation}", None),
    ("conversations_list_messages", "GET", "/api/conversations/{conversation}/messages", None),
    ("conversations_export_json", "GET", "/api/conversations/{conversation}/export?format=json", None),
    ("conversations_export_zip", "GET", "/api/conversations/{archived}/export?format=zip", None),
]

LISTINGS = [
    ("assistants_list", "/api/assistants", {}),
    ("assistants_list_search", "/api/assistants", {"q": "Alice"}),
    ("assistants_list_tag", "/api/assistants", {"tag": "secret"}),
    ("conversations_list", "/api/conversations", {"archived": "all"}),
    ("conversations_list_search", "/api/conversations", {"q": "secret", "archived": "all"}),
    ("conversations_list_by_assistant", "/api/conversations", {"assistant_id": "{assistant}", "archived": "all"}),
]

# Bob's writes that would reference alice's assistant as a tool: refused as "not found".
REFERENCES = [
    ("assistants_create_with_tool", "POST", "/api/assistants",
     {"name": "spy", "tools": [{"type": "assistant", "assistant_id": "{assistant}"}]}),
    ("assistants_update_with_tool", "PATCH", "/api/assistants/{bob_assistant}",
     {"tools": [{"type": "assistant", "assistant_id": "{helper}", "mode": "handoff"}]}),
    ("assistants_import_with_tool", "POST", "/api/assistants/import",
     {"format": "agentcreator.assistant", "version": 1,
      "assistant": {"name": "spy", "tools": [{"type": "assistant", "assistant_id": "{assistant}"}]}}),
]


def fill(value: Any, world: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**world) if "{" in value else value
    if isinstance(value, list):
        return [fill(v, world) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, world) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("case", "method", "path", "body"), DIRECT, ids=[row[0] for row in DIRECT])
async def test_other_user_gets_404_and_changes_nothing(client: httpx.AsyncClient, alice: UserSession,
                                                       bob: UserSession, world: dict[str, str], case: str,
                                                       method: str, path: str, body: Any) -> None:
    before = await snapshot(client, alice, world)
    bob_before = await snapshot_bob(client, bob)
    response = await client.request(method, fill(path, world), json=fill(body, world), headers=bob.headers)
    assert response.status_code == 404, response.text
    # Indistinguishable from an id that does not exist at all.
    missing = {k: MISSING for k in world}
    nonexistent = await client.request(method, fill(path, missing), json=fill(body, missing), headers=bob.headers)
    assert nonexistent.status_code == 404
    assert response.json() == nonexistent.json()
    assert response.json()["error"]["code"] == "not_found"
    assert await snapshot(client, alice, world) == before
    assert await snapshot_bob(client, bob) == bob_before


@pytest.mark.parametrize(("case", "path", "params"), LISTINGS, ids=[row[0] for row in LISTINGS])
async def test_listings_never_show_other_users_data(client: httpx.AsyncClient, alice: UserSession,
                                                    bob: UserSession, world: dict[str, str], case: str,
                                                    path: str, params: dict[str, str]) -> None:
    before = await snapshot(client, alice, world)
    page = await get_json(client, bob, path, **fill(params, world))
    alice_ids = {world["assistant"], world["helper"], world["conversation"], world["archived"]}
    assert not alice_ids & {item["id"] for item in page["data"]}
    assert "Alice" not in str(page) and "secret" not in str(page).lower()
    assert page["count"] == len(page["data"]) <= 1
    assert await snapshot(client, alice, world) == before


@pytest.mark.parametrize(("case", "method", "path", "body"), REFERENCES, ids=[row[0] for row in REFERENCES])
async def test_other_users_assistant_cannot_be_used_as_a_tool(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, world: dict[str, str], case: str,
        method: str, path: str, body: Any) -> None:
    before = await snapshot(client, alice, world)
    bob_before = await snapshot_bob(client, bob)
    response = await client.request(method, fill(path, world), json=fill(body, world), headers=bob.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == "tools.0.assistant_id: Assistant not found"
    assert await snapshot(client, alice, world) == before
    assert await snapshot_bob(client, bob) == bob_before


async def snapshot_bob(client: httpx.AsyncClient, bob: UserSession) -> dict[str, Any]:
    return {"assistants": await get_json(client, bob, "/api/assistants"),
            "conversations": await get_json(client, bob, "/api/conversations", archived="all")}


async def test_owner_can_do_what_bob_cannot(client: httpx.AsyncClient, alice: UserSession,
                                            world: dict[str, str]) -> None:
    """The control for the table above: the same requests succeed for alice."""
    for case, method, path, body in DIRECT:
        if method == "DELETE":
            continue
        response = await client.request(method, fill(path, world), json=fill(body, world), headers=alice.headers)
        assert response.status_code in (200, 201), (case, response.text)
    for case, method, path, body in REFERENCES[:1]:
        response = await client.request(method, path, json=fill(body, world), headers=alice.headers)
        assert response.status_code == 201, (case, response.text)
    for method, path in (("DELETE", "/api/conversations/{conversation}"), ("DELETE", "/api/assistants/{assistant}")):
        assert (await client.request(method, fill(path, world), headers=alice.headers)).status_code == 204


ALL_ROUTES = [(m, p, b) for _, m, p, b in DIRECT + REFERENCES] + [("GET", p, None) for _, p, _ in LISTINGS]


@pytest.mark.parametrize("auth", [None, "Bearer not-a-token", "Basic YWxpY2U6cHc=", "Bearer "])
@pytest.mark.parametrize(("method", "path", "body"), ALL_ROUTES, ids=[f"{m} {p}" for m, p, _ in ALL_ROUTES])
async def test_unauthenticated_is_401_and_changes_nothing(client: httpx.AsyncClient, alice: UserSession,
                                                          world: dict[str, str], method: str, path: str,
                                                          body: Any, auth: str | None) -> None:
    before = await snapshot(client, alice, world)
    headers = {"Authorization": auth} if auth else {}
    response = await client.request(method, fill(path, world), json=fill(body, world), headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] in {"not_authenticated", "invalid_token", "unauthorized"}
    assert await snapshot(client, alice, world) == before
