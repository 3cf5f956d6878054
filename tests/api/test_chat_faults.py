"""Faults during a turn: stop, client gone, a second send, a crash left behind. After each, the
conversation is consistent and the next turn works."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from agentcreator.db.models import Message
from agentcreator.db.session import transaction
from agentcreator.db.types import new_id, utcnow
from agentcreator.repositories import budgets as budget_repo
from agentcreator.repositories import runs as run_repo
from agentcreator.state import AppState
from tests.api.chat_helpers import eventually, make_chat, messages, send, sse_events
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script

SSE = {"Accept": "text/event-stream"}


async def _start_streaming(client: httpx.AsyncClient, user: UserSession, conversation_id: str,
                           text: str = "go") -> tuple[asyncio.Task[list], asyncio.Event]:
    """Start an SSE send in the background; returns the task collecting events and an event set
    once the first text delta arrived."""
    first_delta = asyncio.Event()

    async def run() -> list:
        collected = []
        async with client.stream("POST", f"/api/conversations/{conversation_id}/messages",
                                 headers=user.headers | SSE, json={"content": text}) as response:
            assert response.status_code == 200, await response.aread()
            async for event in sse_events(response):
                collected.append(event)
                if event.type == "text_delta":
                    first_delta.set()
        return collected

    return asyncio.create_task(run()), first_delta


async def test_stop_keeps_the_partial_answer_and_cancels_upstream(
        live_client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["Once", " upon", " a", " time"], stall_after=2, stall_seconds=30))
    _, conversation = await make_chat(live_client, alice)
    task, first_delta = await _start_streaming(live_client, alice, conversation["id"])
    await asyncio.wait_for(first_delta.wait(), timeout=10)
    stop = await live_client.post(f"/api/conversations/{conversation['id']}/stop", headers=alice.headers)
    assert stop.status_code == 200 and stop.json() == {"stopped": True}
    events = await asyncio.wait_for(task, timeout=10)
    assert events[-1].type == "turn_stopped"
    assert events[-1].data["message"]["status"] == "stopped"
    assert events[-1].data["message"]["text"] == "Once upon"
    upstream = next(r for r in openai_double.requests if r.path.endswith("/chat/completions"))
    assert upstream.wait_disconnected(5), "the upstream request must be cancelled"
    stored = await messages(live_client, alice, conversation["id"])
    assert [(m["role"], m["status"], m["text"]) for m in stored] == [
        ("user", "complete", "go"), ("assistant", "stopped", "Once upon")]
    openai_double.push(Script(text=["Next", " turn"]))
    nxt = (await send(live_client, alice, conversation["id"], "continue")).json()["assistant_message"]
    assert (nxt["status"], nxt["text"]) == ("complete", "Next turn")


async def test_stop_without_a_running_turn_says_so(client: httpx.AsyncClient, alice: UserSession) -> None:
    _, conversation = await make_chat(client, alice)
    response = await client.post(f"/api/conversations/{conversation['id']}/stop", headers=alice.headers)
    assert response.json() == {"stopped": False}


async def test_a_second_send_while_a_turn_runs_gets_409(
        live_client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["slow", " answer"], stall_after=1, stall_seconds=30))
    _, conversation = await make_chat(live_client, alice)
    task, first_delta = await _start_streaming(live_client, alice, conversation["id"])
    await asyncio.wait_for(first_delta.wait(), timeout=10)
    second = await send(live_client, alice, conversation["id"], "me too")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "turn_in_progress"
    assert "still being written" in second.json()["error"]["message"]
    await live_client.post(f"/api/conversations/{conversation['id']}/stop", headers=alice.headers)
    await asyncio.wait_for(task, timeout=10)
    stored = await messages(live_client, alice, conversation["id"])
    assert [m["text"] for m in stored if m["role"] == "user"] == ["go"]  # the refused send left nothing


async def test_client_gone_stops_the_turn_after_the_grace_period(
        live_client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble,
        app_state: AppState) -> None:
    openai_double.push(Script(text=["Left", " alone", " forever"], stall_after=2, stall_seconds=30))
    _, conversation = await make_chat(live_client, alice)
    async with live_client.stream("POST", f"/api/conversations/{conversation['id']}/messages",
                                  headers=alice.headers | SSE, json={"content": "hi"}) as response:
        received = ""
        async for event in sse_events(response):
            received += event.data["text"] if event.type == "text_delta" else ""
            if received == "Left alone":  # deltas that arrive together come as one
                break  # the client goes away mid-answer

    async def stopped() -> dict | None:
        stored = await messages(live_client, alice, conversation["id"])
        return stored[-1] if stored[-1]["status"] != "streaming" else None

    final = await eventually(stopped, within=app_state.settings.chat.disconnect_grace_seconds + 10)
    assert final is not None and final["status"] == "stopped"
    assert final["text"] == "Left alone"
    upstream = next(r for r in openai_double.requests if r.path.endswith("/chat/completions"))
    assert upstream.wait_disconnected(5)


async def test_reconnecting_with_last_event_id_gets_the_rest_without_loss(
        live_client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    words = [f" w{i}" for i in range(12)]
    openai_double.push(Script(text=words, chunk_delay=0.05))
    _, conversation = await make_chat(live_client, alice)
    seen = []
    async with live_client.stream("POST", f"/api/conversations/{conversation['id']}/messages",
                                  headers=alice.headers | SSE, json={"content": "count"}) as response:
        async for event in sse_events(response):
            seen.append(event)
            if sum(e.type == "text_delta" for e in seen) == 3:
                break  # connection lost after three words
    async with live_client.stream("GET", f"/api/conversations/{conversation['id']}/events",
                                  headers=alice.headers | {"Last-Event-ID": seen[-1].id}) as resumed:
        assert resumed.status_code == 200
        rest = [e async for e in sse_events(resumed)]
    deltas = [e.data["text"] for e in seen + rest if e.type == "text_delta"]
    assert "".join(deltas) == "".join(words)
    assert rest[0].id != seen[-1].id and rest[-1].type in {"turn_completed", "conversation_updated"}


async def test_a_dead_processs_streaming_answer_is_interrupted_and_the_next_turn_works(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    _, conversation = await make_chat(client, alice)
    assert (await send(client, alice, conversation["id"], "first")).status_code == 201
    await app_state.chat.drain()  # the title is written after the answer: its call must not take a later script
    # What a process killed mid-answer leaves behind: its answer streaming, its run in progress, its
    # lease expired (tests/chat/test_crash_safety.py does it with real processes).
    async with transaction(app_state.sessions) as session:
        answer = Message(conversation_id=conversation["id"], seq=99, role="assistant", content=[],
                         text="half an ans", status="streaming")
        session.add(answer)
        await session.flush()
        await run_repo.register_worker(session, "dead-worker", utcnow() - timedelta(seconds=1))
        await run_repo.insert_run(session, run_id=new_id(), owner_id=alice.id, conversation_id=conversation["id"],
                                  message_id=answer.id, assistant_id=None, model="double/gpt-4o-mini",
                                  status="in_progress", rounds=0, cost_micros=0, worker_id="dead-worker",
                                  prompt_tokens=12)
    blocked = await send(client, alice, conversation["id"], "hello?")
    assert blocked.status_code == 409
    assert await app_state.leases.sweep() == 1  # what start-up and every process's sweep do
    stored = await messages(client, alice, conversation["id"])
    assert stored[-1]["status"] == "interrupted"
    assert stored[-1]["text"] == "half an ans"
    assert [part["text"] for part in stored[-1]["content"] if part["type"] == "text"] == ["half an ans"]
    assert stored[-1]["error"]["code"] == "interrupted"
    assert stored[-1]["usage"]["estimated"] and stored[-1]["usage"]["output_tokens"] > 0
    assert await app_state.leases.sweep() == 0  # finished once
    openai_double.push(Script(text=["All", " good"]))
    after = await send(client, alice, conversation["id"], "again")
    assert after.json()["assistant_message"]["text"] == "All good"


async def test_a_sweep_leaves_a_live_processs_turn_and_reservation_alone(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    _, conversation = await make_chat(client, alice)
    run_id = new_id()
    async with transaction(app_state.sessions) as session:
        answer = Message(conversation_id=conversation["id"], seq=99, role="assistant", content=[],
                         text="still writing", status="streaming")
        session.add(answer)
        await session.flush()
        await run_repo.register_worker(session, "live-worker", utcnow() + timedelta(seconds=30))
        await run_repo.insert_run(session, run_id=run_id, owner_id=alice.id, conversation_id=conversation["id"],
                                  message_id=answer.id, assistant_id=None, model="double/gpt-4o-mini",
                                  status="in_progress", rounds=0, cost_micros=0, worker_id="live-worker")
        await budget_repo.add_reservation(session, alice.id, [budget_repo.LedgerKey("user_day", alice.id, "2026-12-05")],
                                          100, 10, run_id=run_id, worker_id="live-worker")
    assert await app_state.leases.sweep() == 0
    stored = await messages(client, alice, conversation["id"])
    assert stored[-1]["status"] == "streaming"
    async with transaction(app_state.sessions) as session:
        assert len(await budget_repo.reservations_of_run(session, run_id)) == 1
        assert (await run_repo.owned_run(session, alice.id, run_id)).status == "in_progress"  # type: ignore[union-attr]
    assert (await send(client, alice, conversation["id"], "hello?")).status_code == 409
    # A stop through this process asks the live owner (through the bus) and finishes nothing here.
    assert (await client.post(f"/api/conversations/{conversation['id']}/stop", headers=alice.headers)).status_code == 200
    assert (await messages(client, alice, conversation["id"]))[-1]["status"] == "streaming"


