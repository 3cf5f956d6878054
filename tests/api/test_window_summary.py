"""Opt-in: messages that fall out of the history window are summarised (metered) and the summary is
sent with the instructions of later turns, only on the branch it describes."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from agentcreator.db.models import UsageRecord
from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script


def system_of(request_body: dict) -> str:
    return next(m["content"] for m in request_body["messages"] if m["role"] == "system")


def chat_requests(double: OpenAIDouble) -> list[dict]:
    return [r.body for r in double.requests if r.path.endswith("/chat/completions")]


async def test_dropped_messages_are_summarised_and_sent_with_later_turns(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    _, conversation = await make_chat(client, alice, history_window=2, summarize_dropped=True,
                                      instructions="Be brief.")
    cid = conversation["id"]
    openai_double.push(Script(text=["A1"]), Script(text=["Title"]))
    await send(client, alice, cid, "My name is Ada and I like tea.")
    await app_state.chat.drain()
    assert len(chat_requests(openai_double)) == 2  # the answer and the title: nothing dropped yet

    openai_double.push(Script(text=["A2"]), Script(text=["SUMMARY-1: Ada likes tea."]))
    await send(client, alice, cid, "What should I drink?")
    await app_state.chat.drain()
    summary_call = chat_requests(openai_double)[-1]
    assert "running summary" in system_of(summary_call)
    assert "user: My name is Ada and I like tea." in summary_call["messages"][-1]["content"]
    assert summary_call["max_tokens"] == 200 or summary_call.get("max_completion_tokens") == 200

    openai_double.push(Script(text=["A3"]), Script(text=["SUMMARY-2"]))
    third = (await send(client, alice, cid, "And for lunch?")).json()
    await app_state.chat.drain()
    answer_call = chat_requests(openai_double)[-2]
    assert system_of(answer_call).startswith("Be brief.")
    assert "SUMMARY-1: Ada likes tea." in system_of(answer_call)
    assert [m["content"] for m in answer_call["messages"] if m["role"] != "system"] == ["A2", "And for lunch?"]
    inspected = await client.get(f"/api/conversations/{cid}/messages/{third['assistant_message']['id']}/context",
                                 headers=alice.headers)
    assert inspected.json()["context"]["window_summary"] is True
    folded = chat_requests(openai_double)[-1]["messages"][-1]["content"]
    assert folded.startswith("Summary so far:\nSUMMARY-1: Ada likes tea.")
    assert "user: My name is Ada" not in folded  # already covered: only the newly dropped messages
    assert "assistant: A1" in folded and "user: What should I drink?" in folded
    async with app_state.sessions() as session:
        kinds = (await session.execute(select(UsageRecord.kind).where(
            UsageRecord.conversation_id == cid).order_by(UsageRecord.created_at))).scalars().all()
    assert kinds.count("summary") == 2 and kinds.count("chat") == 3


async def test_off_by_default_nothing_extra_is_called(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    _, conversation = await make_chat(client, alice, history_window=1)
    for text in ("one", "two", "three"):
        await send(client, alice, conversation["id"], text)
        await app_state.chat.drain()
    calls = chat_requests(openai_double)
    assert len(calls) == 4  # three answers and one title
    assert not any("running summary" in system_of(c) for c in calls if any(m["role"] == "system" for m in c["messages"]))
