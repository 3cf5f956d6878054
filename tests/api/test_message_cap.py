"""The message cap: at ``max_messages`` the next send continues in a new conversation carrying a
summary and the recent messages; the old one becomes read-only."""

from __future__ import annotations

from typing import Any

import httpx

from agentcreator.chat.continuation import SUMMARY_HEADING, SUMMARY_PROMPT
from agentcreator.state import AppState
from tests.api.billing_helpers import chat_calls, ledger, open_reservations, usage_records
from tests.api.chat_helpers import make_chat, messages, send, sse_events
from tests.conftest import UserSession
from tests.llm.openai_double import HttpError, OpenAIDouble, Script


async def _full_chat(client: httpx.AsyncClient, user: UserSession, double: OpenAIDouble,
                     max_messages: int = 4) -> tuple[dict[str, Any], str]:
    """A conversation at its cap: ``max_messages`` / 2 exchanges (titled, so no title calls)."""
    assistant, conversation = await make_chat(client, user, max_messages=max_messages)
    await client.patch(f"/api/conversations/{conversation['id']}", headers=user.headers, json={"title": "Trip"})
    for i in range(max_messages // 2):
        double.push(Script(text=[f"answer {i}"]))
        assert (await send(client, user, conversation["id"], f"question {i}")).status_code == 201
    return assistant, conversation["id"]


async def _get(client: httpx.AsyncClient, user: UserSession, conversation_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/conversations/{conversation_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_reaching_the_cap_continues_with_a_summary_and_the_recent_messages(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    assistant, old_id = await _full_chat(client, alice, openai_double)
    old_messages = await messages(client, alice, old_id)
    openai_double.reset()
    openai_double.push(Script(text=["Planning a trip; two questions so far."], input_tokens=80, output_tokens=10),
                       Script(text=["continued answer"], input_tokens=100, output_tokens=5))

    response = await send(client, alice, old_id, "question 2")

    assert response.status_code == 201, response.text
    body = response.json()
    new_id = body["conversation_id"]
    assert new_id != old_id and body["continued_from"] == old_id
    assert body["assistant_message"]["text"] == "continued answer"
    assert body["user_message"]["conversation_id"] == new_id
    summary_request, chat_request = [r.body for r in openai_double.requests]
    assert summary_request["messages"][0] == {"role": "system", "content": SUMMARY_PROMPT}
    assert summary_request["messages"][1]["content"] == (
        "User: question 0\n\nAssistant: answer 0\n\nUser: question 1\n\nAssistant: answer 1")
    # the continuation's request: instructions + summary, the two carried messages, the new question
    assert chat_request["messages"] == [
        {"role": "system", "content": f"Be brief.\n\n{SUMMARY_HEADING}\nPlanning a trip; two questions so far."},
        {"role": "user", "content": "question 1"}, {"role": "assistant", "content": "answer 1"},
        {"role": "user", "content": "question 2"}]

    new = await _get(client, alice, new_id)
    assert (new["parent_id"], new["summary"], new["title"], new["read_only"]) == (
        old_id, "Planning a trip; two questions so far.", "Trip", False)
    assert new["assistant_id"] == assistant["id"]
    carried = await messages(client, alice, new_id)
    assert [(m["role"], m["text"], m["carried_from_id"]) for m in carried] == [
        ("user", "question 1", old_messages[2]["id"]), ("assistant", "answer 1", old_messages[3]["id"]),
        ("user", "question 2", None), ("assistant", "continued answer", None)]
    assert carried[0]["cost_micros"] is None and carried[1]["parent_id"] == carried[0]["id"]
    old = await _get(client, alice, old_id)
    assert (old["continued_in_id"], old["read_only"], old["message_count"]) == (new_id, True, 4)

    summary = (await usage_records(app_state, kind="summary"))[0]
    # gpt-4o-mini: 80 x $0.15 + 10 x $0.60 per 1M = 12 + 6 = 18 micro-dollars
    assert (summary.conversation_id, summary.cost_micros, summary.input_tokens) == (old_id, 18, 80)
    assert not await open_reservations(app_state)
    row = (await ledger(app_state))[("user_month", alice.id)]
    assert row.reserved_micros == 0


async def test_the_old_conversation_is_read_only(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    _, old_id = await _full_chat(client, alice, openai_double)
    old_messages = await messages(client, alice, old_id)
    new_id = (await send(client, alice, old_id, "go on")).json()["conversation_id"]
    calls = chat_calls(openai_double)

    attempts = [
        await send(client, alice, old_id, "more"),
        await client.post(f"/api/conversations/{old_id}/messages/{old_messages[-1]['id']}/regenerate",
                          headers=alice.headers),
        await client.post(f"/api/conversations/{old_id}/messages/{old_messages[-2]['id']}/edit",
                          headers=alice.headers, json={"content": "changed"}),
    ]
    for response in attempts:
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "conversation_read_only" and error["details"] == {"continued_in_id": new_id}
    assert await messages(client, alice, old_id) == old_messages
    assert chat_calls(openai_double) == calls
    # another user learns nothing about either conversation
    for conversation_id in (old_id, new_id):
        assert (await send(client, bob, conversation_id, "hi")).status_code == 404
        assert (await client.get(f"/api/conversations/{conversation_id}", headers=bob.headers)).status_code == 404
    assert await messages(client, alice, old_id) == old_messages


async def test_copies_do_not_count_towards_the_cap(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    _, old_id = await _full_chat(client, alice, openai_double)
    new_id = (await send(client, alice, old_id, "q2")).json()["conversation_id"]  # 2 copies + 2 new
    openai_double.push(Script(text=["a3"]))
    third = (await send(client, alice, new_id, "q3")).json()  # 2 counted before, 4 after
    assert third["conversation_id"] == new_id and third["continued_from"] is None
    newest = (await send(client, alice, new_id, "q4")).json()
    assert newest["continued_from"] == new_id and newest["conversation_id"] not in (old_id, new_id)


async def test_a_failed_summary_falls_back_to_an_extract(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    _, old_id = await _full_chat(client, alice, openai_double)
    openai_double.push(Script(http_error=HttpError(400, "no summaries today", code="invalid_value")),
                       Script(text=["still answering"]))
    body = (await send(client, alice, old_id, "next")).json()
    assert body["assistant_message"]["text"] == "still answering"
    new = await _get(client, alice, body["conversation_id"])
    assert new["summary"] == ("(Extract of the last messages; no summary could be written.)\n"
                              "User: question 0\nAssistant: answer 0\nUser: question 1\nAssistant: answer 1")
    assert await usage_records(app_state, kind="summary") == []
    assert not await open_reservations(app_state)


async def test_streaming_send_reports_the_continuation_and_the_old_channel_announces_it(
        live_client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    _, old_id = await _full_chat(live_client, alice, openai_double)
    openai_double.push(Script(text=["sum"]), Script(text=["streamed"]))
    async with live_client.stream("POST", f"/api/conversations/{old_id}/messages",
                                  headers=alice.headers | {"Accept": "text/event-stream"},
                                  json={"content": "next"}) as response:
        events = [e async for e in sse_events(response)]
    started = events[0]
    assert started.type == "turn_started" and started.data["continued_from"] == old_id
    new_id = started.data["conversation_id"]
    assert new_id != old_id and events[-1].type == "turn_completed"
    async with live_client.stream("GET", f"/api/conversations/{old_id}/events", headers=alice.headers) as old:
        announced = [e async for e in sse_events(old)]
    assert [(e.type, e.data) for e in announced] == [("conversation_continued", {
        "type": "conversation_continued", "conversation_id": old_id, "continued_in_id": new_id,
        "summary_source": "model"})]


async def test_deleting_the_continuation_makes_the_old_conversation_writable_again(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    _, old_id = await _full_chat(client, alice, openai_double)
    new_id = (await send(client, alice, old_id, "next")).json()["conversation_id"]
    assert (await client.delete(f"/api/conversations/{new_id}", headers=alice.headers)).status_code == 204
    old = await _get(client, alice, old_id)
    assert (old["continued_in_id"], old["read_only"]) == (None, False)
    again = (await send(client, alice, old_id, "next")).json()  # still at the cap: a fresh continuation
    assert again["continued_from"] == old_id and again["conversation_id"] != new_id
