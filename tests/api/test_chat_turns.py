"""A chat turn end to end through the real openai client and the OpenAI double."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from agentcreator.db.models import UsageRecord
from agentcreator.state import AppState
from tests.api.chat_helpers import eventually, make_chat, messages, send, sse_events
from tests.conftest import UserSession
from tests.llm.openai_double import HttpError, OpenAIDouble, Script


async def test_non_streaming_send_saves_both_messages_with_usage(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    openai_double.push(Script(text=["Paris", " is", " the", " capital."], input_tokens=42, output_tokens=4))
    _, conversation = await make_chat(client, alice)
    response = await send(client, alice, conversation["id"], "What is the capital of France?")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user_message"]["text"] == "What is the capital of France?"
    answer = body["assistant_message"]
    assert answer["status"] == "complete"
    assert answer["text"] == "Paris is the capital."
    assert answer["usage"]["input_tokens"] == 42 and answer["usage"]["output_tokens"] == 4
    assert answer["usage"]["estimated"] is False
    assert answer["usage"]["latency_ms"] >= 0 and answer["usage"]["ttft_ms"] is not None
    stored = await messages(client, alice, conversation["id"])
    assert [(m["role"], m["status"]) for m in stored] == [("user", "complete"), ("assistant", "complete")]
    assert stored[1]["parent_id"] == stored[0]["id"]
    chat_request = next(r for r in openai_double.requests if r.path.endswith("/chat/completions"))
    assert chat_request.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert chat_request.body["messages"][-1]["content"] == "What is the capital of France?"
    async with app_state.sessions() as session:
        records = (await session.execute(select(UsageRecord).where(
            UsageRecord.message_id == answer["id"]))).scalars().all()
    assert [(r.kind, r.provider, r.model, r.input_tokens, r.output_tokens) for r in records] == [
        ("chat", "double", "gpt-4o-mini", 42, 4)]


async def test_sse_send_streams_typed_events_with_ids(
        live_client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["One", " two", " three"]))
    _, conversation = await make_chat(live_client, alice, model="openai/gpt-4o-mini")
    async with live_client.stream("POST", f"/api/conversations/{conversation['id']}/messages",
                                  headers=alice.headers | {"Accept": "text/event-stream"},
                                  json={"content": "Count"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        events = [e async for e in sse_events(response)]
    types = [e.type for e in events]
    assert types[0] == "turn_started"
    assert types.count("text_delta") == 3
    assert types[-2:] == ["turn_completed", "conversation_updated"]  # the title comes after the answer
    assert all(e.id for e in events)
    assert len({e.id for e in events}) == len(events)
    completed = next(e for e in events if e.type == "turn_completed")
    assert completed.data["message"]["text"] == "One two three"
    assert "".join(e.data["text"] for e in events if e.type == "text_delta") == "One two three"


async def test_a_new_conversation_gets_a_generated_title(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["Sure."]), Script(text=['"Weekend', ' hiking plans"']))
    _, conversation = await make_chat(client, alice)
    assert (await send(client, alice, conversation["id"], "Plan a hike for Saturday")).status_code == 201

    async def titled() -> str | None:
        current = (await client.get(f"/api/conversations/{conversation['id']}", headers=alice.headers)).json()
        return current["title"] if current["title"] != "New conversation" else None

    assert await eventually(titled) == "Weekend hiking plans"
    title_request = openai_double.last_request.body
    assert title_request["max_tokens"] == 16 or title_request.get("max_completion_tokens") == 16


async def test_provider_error_before_the_first_token_marks_the_answer_failed(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    failure = Script(http_error=HttpError(500, "upstream exploded", type="server_error"))
    openai_double.push(failure, failure, failure)  # the first call and the SDK's two retries
    _, conversation = await make_chat(client, alice)
    response = await send(client, alice, conversation["id"], "hello?")
    assert response.status_code == 201
    assert sum(r.path.endswith("/chat/completions") for r in openai_double.requests) == 3
    answer = response.json()["assistant_message"]
    assert answer["status"] == "failed"
    assert answer["error"]["code"] in {"provider_unavailable", "provider_error"}
    assert answer["text"] == ""
    stored = await messages(client, alice, conversation["id"])
    assert stored[0]["text"] == "hello?" and stored[0]["status"] == "complete"
    openai_double.push(Script(text=["Back", " again"]))
    retry = await send(client, alice, conversation["id"], "still there?")
    assert retry.json()["assistant_message"]["status"] == "complete"
    assert retry.json()["assistant_message"]["text"] == "Back again"


async def test_stream_cut_midway_keeps_the_partial_answer_marked_failed(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["Partial", " answer", " never", " finished"], cut_after=2))
    _, conversation = await make_chat(client, alice)
    answer = (await send(client, alice, conversation["id"], "go")).json()["assistant_message"]
    assert answer["status"] == "failed"
    assert answer["text"] == "Partial answer"
    assert answer["error"]["retryable"] is True
    assert answer["usage"]["estimated"] is True
    openai_double.push(Script(text=["Fine", " now"]))
    follow_up = (await send(client, alice, conversation["id"], "again")).json()["assistant_message"]
    assert follow_up["text"] == "Fine now"
    history = openai_double.last_request.body["messages"]
    assert {"role": "assistant", "content": "Partial answer"} in history
