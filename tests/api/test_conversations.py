"""Conversations API: start, read, rename/archive, delete, list with filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from agentcreator.db.models import Conversation, Message
from agentcreator.state import AppState
from tests.api.test_assistants_factories import add_messages, get_json, make_assistant, make_conversation
from tests.conftest import UserSession

PUBLIC_KEYS = {"id", "assistant_id", "title", "archived", "parent_id", "continued_in_id", "summary", "read_only", "model",
               "message_count", "last_activity_at", "created_at", "updated_at"}


def titles(page: dict[str, Any]) -> list[str]:
    return [c["title"] for c in page["data"]]


async def test_create_with_defaults(client: httpx.AsyncClient, alice: UserSession) -> None:
    assistant = await make_assistant(alice)
    response = await client.post("/api/conversations", json={"assistant_id": assistant["id"]},
                                 headers=alice.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == PUBLIC_KEYS
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
    assert body["assistant_id"] == assistant["id"]
    assert body["title"] == "New conversation"
    assert body["archived"] is False and body["parent_id"] is None and body["message_count"] == 0
    assert body["last_activity_at"] == body["created_at"]
    assert (await get_json(client, alice, f"/api/conversations/{body['id']}")) == body


async def test_new_thread_is_a_new_conversation(client: httpx.AsyncClient, alice: UserSession) -> None:
    assistant = await make_assistant(alice)
    first = await make_conversation(alice, assistant["id"], title="  Trip to Rome ")
    second = await make_conversation(alice, assistant["id"], title=None)
    assert first["title"] == "Trip to Rome" and second["title"] == "New conversation"
    assert first["id"] != second["id"]
    page = await get_json(client, alice, "/api/conversations")
    assert page["count"] == 2 and {c["id"] for c in page["data"]} == {first["id"], second["id"]}


@pytest.mark.parametrize("body", [
    {}, {"assistant_id": None}, {"assistant_id": 5}, {"assistant_id": ""}, {"assistant_id": "a" * 65},
    {"assistant_id": "{a}", "title": ""}, {"assistant_id": "{a}", "title": "   "},
    {"assistant_id": "{a}", "title": "t" * 301}, {"assistant_id": "{a}", "title": 7},
    {"assistant_id": "{a}", "owner_id": "0" * 32}, {"assistant_id": "{a}", "archived": True},
    {"assistant_id": "{a}", "parent_id": "0" * 32}, {"assistant_id": "{a}", "message_count": 3},
])
async def test_create_invalid_is_422(client: httpx.AsyncClient, alice: UserSession, body: dict[str, Any]) -> None:
    assistant = await make_assistant(alice)
    payload = {k: assistant["id"] if v == "{a}" else v for k, v in body.items()}
    response = await client.post("/api/conversations", json=payload, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert (await get_json(client, alice, "/api/conversations", archived="all"))["count"] == 0


@pytest.mark.parametrize("assistant_id", ["0" * 32, "nope", "a\x00b", "🧪"])
async def test_create_with_an_unknown_assistant_is_404(client: httpx.AsyncClient, alice: UserSession,
                                                       assistant_id: str) -> None:
    response = await client.post("/api/conversations", json={"assistant_id": assistant_id}, headers=alice.headers)
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "Assistant not found"}


async def test_malformed_json_is_422(client: httpx.AsyncClient, alice: UserSession) -> None:
    response = await client.post("/api/conversations", content=b'{"assistant_id": "x",',
                                 headers={**alice.headers, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "Malformed JSON body"


async def test_patch_renames_and_archives(client: httpx.AsyncClient, alice: UserSession) -> None:
    conversation = await make_conversation(alice, (await make_assistant(alice))["id"])
    url = f"/api/conversations/{conversation['id']}"
    renamed = await client.patch(url, json={"title": " Renamed "}, headers=alice.headers)
    assert renamed.status_code == 200 and renamed.json()["title"] == "Renamed"
    assert renamed.json()["archived"] is False
    archived = await client.patch(url, json={"archived": True}, headers=alice.headers)
    assert archived.status_code == 200
    body = archived.json()
    assert body["archived"] is True and body["title"] == "Renamed"
    assert body["last_activity_at"] == conversation["last_activity_at"]
    assert body["updated_at"] >= conversation["updated_at"]
    assert (await get_json(client, alice, url)) == body


@pytest.mark.parametrize("body", [
    {"title": None}, {"archived": None}, {"title": ""}, {"archived": "maybe"}, {"assistant_id": "0" * 32},
    {"owner_id": "0" * 32}, {"message_count": 99}, {"parent_id": None}, {"id": "0" * 32},
])
async def test_patch_invalid_is_422_and_changes_nothing(client: httpx.AsyncClient, alice: UserSession,
                                                        body: dict[str, Any]) -> None:
    conversation = await make_conversation(alice, (await make_assistant(alice))["id"], title="Kept")
    url = f"/api/conversations/{conversation['id']}"
    response = await client.patch(url, json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert (await get_json(client, alice, url)) == conversation


async def test_delete_removes_the_conversation_and_its_messages(client: httpx.AsyncClient, alice: UserSession,
                                                                app_state: AppState) -> None:
    assistant = await make_assistant(alice)
    doomed = await make_conversation(alice, assistant["id"])
    kept = await make_conversation(alice, assistant["id"])
    await add_messages(app_state, doomed["id"], "hello", "hi there", "bye")
    await add_messages(app_state, kept["id"], "still here")
    response = await client.delete(f"/api/conversations/{doomed['id']}", headers=alice.headers)
    assert response.status_code == 204 and response.content == b""
    assert (await client.get(f"/api/conversations/{doomed['id']}", headers=alice.headers)).status_code == 404
    gone = await client.get(f"/api/conversations/{doomed['id']}/messages", headers=alice.headers)
    assert gone.status_code == 404
    async with app_state.sessions() as session:
        counts = dict((await session.execute(
            select(Message.conversation_id, func.count()).group_by(Message.conversation_id))).all())
    assert counts == {kept["id"]: 1}
    assert (await get_json(client, alice, f"/api/conversations/{kept['id']}/messages"))["count"] == 1


async def test_deleting_the_assistant_keeps_its_conversations(client: httpx.AsyncClient, alice: UserSession,
                                                              app_state: AppState) -> None:
    assistant = await make_assistant(alice)
    other = await make_assistant(alice, name="Other")
    orphan = await make_conversation(alice, assistant["id"], title="Orphan")
    untouched = await make_conversation(alice, other["id"], title="Untouched")
    await add_messages(app_state, orphan["id"], "question", "answer")
    assert (await client.delete(f"/api/assistants/{assistant['id']}", headers=alice.headers)).status_code == 204
    after = await get_json(client, alice, f"/api/conversations/{orphan['id']}")
    assert after["assistant_id"] is None
    assert after["title"] == "Orphan" and after["message_count"] == 2
    messages = await get_json(client, alice, f"/api/conversations/{orphan['id']}/messages")
    assert [m["text"] for m in messages["data"]] == ["question", "answer"]
    assert (await get_json(client, alice, f"/api/conversations/{untouched['id']}"))["assistant_id"] == other["id"]
    by_deleted = await get_json(client, alice, "/api/conversations", assistant_id=assistant["id"])
    assert by_deleted == {"data": [], "count": 0}
    new_thread = await client.post("/api/conversations", json={"assistant_id": assistant["id"]},
                                   headers=alice.headers)
    assert new_thread.status_code == 404


async def test_list_orders_by_last_activity(client: httpx.AsyncClient, alice: UserSession,
                                            app_state: AppState) -> None:
    assistant = await make_assistant(alice)
    first = await make_conversation(alice, assistant["id"], title="first")
    await make_conversation(alice, assistant["id"], title="second")
    await make_conversation(alice, assistant["id"], title="third")
    assert titles(await get_json(client, alice, "/api/conversations")) == ["third", "second", "first"]
    await add_messages(app_state, first["id"], "wake up")
    page = await get_json(client, alice, "/api/conversations")
    assert titles(page) == ["first", "third", "second"]
    assert page["data"][0]["message_count"] == 1
    assert page["data"][0]["last_activity_at"] > first["last_activity_at"]


async def test_list_archived_filter(client: httpx.AsyncClient, alice: UserSession) -> None:
    assistant = await make_assistant(alice)
    await make_conversation(alice, assistant["id"], title="active")
    old = await make_conversation(alice, assistant["id"], title="old")
    await client.patch(f"/api/conversations/{old['id']}", json={"archived": True}, headers=alice.headers)
    assert titles(await get_json(client, alice, "/api/conversations")) == ["active"]
    assert titles(await get_json(client, alice, "/api/conversations", archived="false")) == ["active"]
    assert titles(await get_json(client, alice, "/api/conversations", archived="true")) == ["old"]
    both = await get_json(client, alice, "/api/conversations", archived="all")
    assert sorted(titles(both)) == ["active", "old"] and both["count"] == 2


async def test_list_by_assistant_search_and_pagination(client: httpx.AsyncClient, alice: UserSession) -> None:
    a = await make_assistant(alice, name="A")
    b = await make_assistant(alice, name="B")
    for i in range(5):
        await make_conversation(alice, a["id"], title=f"Budget review {i}")
    await make_conversation(alice, b["id"], title="BUDGET for B")
    await make_conversation(alice, b["id"], title="Holiday 100% fun_time")
    assert (await get_json(client, alice, "/api/conversations", assistant_id=a["id"]))["count"] == 5
    assert titles(await get_json(client, alice, "/api/conversations", assistant_id=b["id"], q="budget")) == [
        "BUDGET for B"]
    page = await get_json(client, alice, "/api/conversations", q="budget", limit=2, offset=2)
    assert page["count"] == 6 and len(page["data"]) == 2
    everything = [t for offset in range(0, 6, 2)
                  for t in titles(await get_json(client, alice, "/api/conversations", q="BuDgEt",
                                                 limit=2, offset=offset))]
    assert sorted(everything) == sorted(["BUDGET for B", *(f"Budget review {i}" for i in range(5))])
    assert titles(await get_json(client, alice, "/api/conversations", q="%")) == ["Holiday 100% fun_time"]
    assert titles(await get_json(client, alice, "/api/conversations", q="_")) == ["Holiday 100% fun_time"]
    assert (await get_json(client, alice, "/api/conversations", assistant_id="nope"))["count"] == 0


async def test_list_ties_in_activity_are_broken_by_id(client: httpx.AsyncClient, alice: UserSession,
                                                      app_state: AppState) -> None:
    assistant = await make_assistant(alice)
    created = [await make_conversation(alice, assistant["id"], title=f"c{i}") for i in range(4)]
    async with app_state.sessions() as session:
        await session.execute(update(Conversation).values(last_activity_at=datetime(2026, 1, 1, tzinfo=UTC)))
        await session.commit()
    pages = [await get_json(client, alice, "/api/conversations", limit=2, offset=o) for o in (0, 2)]
    ids = [c["id"] for p in pages for c in p["data"]]
    assert ids == sorted((c["id"] for c in created), reverse=True)


@pytest.mark.parametrize("params", [{"archived": "yes"}, {"limit": 0}, {"limit": 101}, {"offset": -1},
                                    {"q": "q" * 201}, {"assistant_id": "a" * 65}])
async def test_bad_query_parameters_are_422(client: httpx.AsyncClient, alice: UserSession,
                                            params: dict[str, Any]) -> None:
    response = await client.get("/api/conversations", params=params, headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
