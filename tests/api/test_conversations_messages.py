"""GET /api/conversations/{id}/messages and the message repository helpers the chat runner uses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agentcreator.db.models import Message
from agentcreator.repositories import messages as message_repo
from agentcreator.state import AppState
from tests.api.test_assistants_factories import add_messages, get_json, make_assistant, make_conversation
from tests.conftest import UserSession

MESSAGE_KEYS = {"id", "conversation_id", "role", "content", "text", "status", "error", "parent_id", "model",
                "usage", "cost_micros", "carried_from_id", "created_at", "updated_at"}


@pytest.fixture
async def conversation(alice: UserSession) -> dict[str, Any]:
    return await make_conversation(alice, (await make_assistant(alice))["id"])


async def test_empty_conversation_has_no_messages(client: httpx.AsyncClient, alice: UserSession,
                                                  conversation: dict[str, Any]) -> None:
    page = await get_json(client, alice, f"/api/conversations/{conversation['id']}/messages")
    assert page == {"data": [], "count": 0}


async def test_messages_oldest_first_with_every_field(client: httpx.AsyncClient, alice: UserSession,
                                                      app_state: AppState, conversation: dict[str, Any]) -> None:
    question, = await add_messages(app_state, conversation["id"], "What is 2+2?")
    await add_messages(app_state, conversation["id"], "4", role="assistant", model="local/smollm2-135m-instruct",
                       usage={"input_tokens": 12, "output_tokens": 1}, cost_micros=0,
                       parent_id=question.id, status="stopped", error={"code": "stopped", "message": "Stopped"})
    page = await get_json(client, alice, f"/api/conversations/{conversation['id']}/messages")
    assert page["count"] == 2
    first, second = page["data"]
    assert set(first) == MESSAGE_KEYS
    assert first == {**first, "id": question.id, "conversation_id": conversation["id"], "role": "user",
                     "content": [{"type": "text", "text": "What is 2+2?"}], "text": "What is 2+2?",
                     "status": "complete", "error": None, "parent_id": None, "model": None, "usage": None,
                     "cost_micros": None}
    assert second["role"] == "assistant" and second["text"] == "4" and second["parent_id"] == question.id
    assert second["model"] == "local/smollm2-135m-instruct" and second["cost_micros"] == 0
    assert second["usage"] == {"input_tokens": 12, "output_tokens": 1}
    assert second["status"] == "stopped" and second["error"] == {"code": "stopped", "message": "Stopped"}


async def test_messages_pagination_follows_seq(client: httpx.AsyncClient, alice: UserSession,
                                               app_state: AppState, conversation: dict[str, Any]) -> None:
    texts = [f"m{i}" for i in range(12)]
    await add_messages(app_state, conversation["id"], *texts)
    url = f"/api/conversations/{conversation['id']}/messages"
    pages = [await get_json(client, alice, url, limit=5, offset=o) for o in (0, 5, 10, 15)]
    assert [[m["text"] for m in p["data"]] for p in pages] == [texts[:5], texts[5:10], texts[10:], []]
    assert {p["count"] for p in pages} == {12}
    assert [m["text"] for m in (await get_json(client, alice, url))["data"]] == texts
    conv = await get_json(client, alice, f"/api/conversations/{conversation['id']}")
    assert conv["message_count"] == 12


async def test_default_limit_is_100(client: httpx.AsyncClient, alice: UserSession, app_state: AppState,
                                    conversation: dict[str, Any]) -> None:
    await add_messages(app_state, conversation["id"], *(str(i) for i in range(105)))
    url = f"/api/conversations/{conversation['id']}/messages"
    page = await get_json(client, alice, url)
    assert len(page["data"]) == 100 and page["count"] == 105 and page["data"][-1]["text"] == "99"
    assert len((await get_json(client, alice, url, limit=500))["data"]) == 105


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "all"}])
async def test_bad_message_query_parameters_are_422(client: httpx.AsyncClient, alice: UserSession,
                                                    conversation: dict[str, Any], params: dict[str, Any]) -> None:
    response = await client.get(f"/api/conversations/{conversation['id']}/messages", params=params,
                                headers=alice.headers)
    assert response.status_code == 422


async def test_messages_of_an_unknown_conversation_are_404(client: httpx.AsyncClient, alice: UserSession) -> None:
    response = await client.get(f"/api/conversations/{'0' * 32}/messages", headers=alice.headers)
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "Conversation not found"}


async def test_repository_helpers(app_state: AppState, conversation: dict[str, Any]) -> None:
    conversation_id = conversation["id"]
    async with app_state.sessions() as session:
        assert await message_repo.next_seq(session, conversation_id) == 1
        for i in range(5):
            await message_repo.add(session, Message(conversation_id=conversation_id, role="user",
                                                    content=[{"type": "text", "text": f"t{i}"}], text=f"t{i}"))
        explicit = await message_repo.add(session, Message(conversation_id=conversation_id, role="assistant",
                                                           seq=10, content=[], text="late"))
        await session.commit()
    assert explicit.seq == 10
    async with app_state.sessions() as session:
        assert await message_repo.next_seq(session, conversation_id) == 11
        assert await message_repo.count_for_conversation(session, conversation_id) == 6
        recent = await message_repo.recent(session, conversation_id, 3)
        assert [(m.seq, m.text) for m in recent] == [(4, "t3"), (5, "t4"), (10, "late")]
        page = await message_repo.list_for_conversation(session, conversation_id, 2, 1)
        assert [m.text for m in page] == ["t1", "t2"]
        assert [m.seq for m in await message_repo.list_for_conversation(session, conversation_id, 100, 0)] == [
            1, 2, 3, 4, 5, 10]
        assert await message_repo.recent(session, conversation_id, 100) == await message_repo.list_for_conversation(
            session, conversation_id, 100, 0)
        assert await message_repo.next_seq(session, "0" * 32) == 1


async def test_add_rolls_back_with_the_callers_transaction(client: httpx.AsyncClient, alice: UserSession,
                                                           app_state: AppState,
                                                           conversation: dict[str, Any]) -> None:
    async with app_state.sessions() as session:
        await message_repo.add(session, Message(conversation_id=conversation["id"], role="user", text="x"))
        await session.rollback()
    assert (await get_json(client, alice, f"/api/conversations/{conversation['id']}/messages"))["count"] == 0
    assert (await get_json(client, alice, f"/api/conversations/{conversation['id']}"))["message_count"] == 0
