"""The chat service and runner against the real database, with a scripted model: paths the HTTP tests
cannot reach (queueing, a provider bug, deletion mid-answer, shutdown)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from agentcreator.chat.bus import MemoryEventBus
from agentcreator.chat.service import ChatService
from agentcreator.chat.turns import TurnRegistry
from agentcreator.core.errors import Conflict, NotFound
from agentcreator.db.models import Conversation, Message, User
from agentcreator.db.session import transaction
from agentcreator.llm.registry import ModelRegistry
from agentcreator.llm.testing import Hang, Raise, ScriptedProvider, text_events
from agentcreator.llm.types import Queued, TextDelta
from agentcreator.state import AppState
from tests.chat.seed import seed_conversation


@dataclass
class Rig:
    service: ChatService
    bus: MemoryEventBus
    provider: ScriptedProvider
    user_id: str
    conversation_id: str


@pytest.fixture
async def rig(app_state: AppState, client: object) -> AsyncIterator[Rig]:  # client: empties the tables
    provider = ScriptedProvider()
    bus = MemoryEventBus()
    service = ChatService(app_state.sessions, bus, TurnRegistry(), ModelRegistry.of(provider), app_state.settings,
                          app_state.billing)
    user_id, conversation_id = await seed_conversation(app_state, "rig@example.com")
    yield Rig(service, bus, provider, user_id, conversation_id)
    await service.aclose()


async def events_of(bus: MemoryEventBus, channel: str) -> list[dict]:
    return [event async for _, event in bus.subscribe(channel)]


async def first_text(bus: MemoryEventBus, channel: str) -> None:
    async for _, event in bus.subscribe(channel):
        if event["type"] == "text_delta":
            return


async def stored_answer(app_state: AppState, conversation_id: str) -> Message:
    async with app_state.sessions() as session:
        return (await session.execute(select(Message).where(
            Message.conversation_id == conversation_id, Message.role == "assistant"))).scalar_one()


async def test_queued_events_are_forwarded_with_the_answer_id(rig: Rig) -> None:
    rig.provider.push([Queued(position=2), Queued(position=1), *text_events("done")])
    started = await rig.service.send(rig.user_id, rig.conversation_id, [{"type": "text", "text": "hi"}])
    events = await asyncio.wait_for(events_of(rig.bus, rig.conversation_id), timeout=10)
    queued = [e for e in events if e["type"] == "queued"]
    assert queued == [{"type": "queued", "message_id": started.assistant_message.id, "position": 2},
                      {"type": "queued", "message_id": started.assistant_message.id, "position": 1}]
    assert events[-1]["type"] == "turn_completed"


async def test_an_unexpected_provider_exception_fails_the_answer_and_keeps_the_text(
        rig: Rig, app_state: AppState, caplog: pytest.LogCaptureFixture) -> None:
    rig.provider.push([TextDelta(text="Half"), Raise(RuntimeError("bug in a provider"))])
    await rig.service.send(rig.user_id, rig.conversation_id, [{"type": "text", "text": "hi"}])
    events = await asyncio.wait_for(events_of(rig.bus, rig.conversation_id), timeout=10)
    assert events[-1]["type"] == "turn_failed"
    assert events[-1]["error"]["code"] == "internal_error"
    answer = await stored_answer(app_state, rig.conversation_id)
    assert (answer.status, answer.text) == ("failed", "Half")
    assert "failed unexpectedly" in caplog.text  # logged, not swallowed


async def test_deleting_the_conversation_mid_answer_ends_the_stream_cleanly(rig: Rig, app_state: AppState) -> None:
    rig.provider.push([TextDelta(text="x"), Hang()])
    started = await rig.service.send(rig.user_id, rig.conversation_id, [{"type": "text", "text": "hi"}])
    reader = asyncio.create_task(events_of(rig.bus, rig.conversation_id))
    await asyncio.wait_for(first_text(rig.bus, rig.conversation_id), timeout=10)  # the answer is under way
    async with transaction(app_state.sessions) as session:
        await session.delete(await session.get(Conversation, rig.conversation_id))
    started.turn.stop("user")
    events = await asyncio.wait_for(reader, timeout=10)
    assert [e["type"] for e in events] == ["turn_started", "text_delta"]  # no terminal: nothing to show
    assert started.turn.finished.is_set()


async def test_shutdown_marks_running_answers_interrupted(rig: Rig, app_state: AppState) -> None:
    rig.provider.push([TextDelta(text="partial"), Hang()])
    await rig.service.send(rig.user_id, rig.conversation_id, [{"type": "text", "text": "hi"}])
    await asyncio.sleep(0.05)
    await rig.service.aclose()
    answer = await stored_answer(app_state, rig.conversation_id)
    assert (answer.status, answer.text) == ("interrupted", "partial")
    assert rig.provider.closed_early == 1


async def test_another_users_running_conversation_is_not_found_rather_than_busy(
        rig: Rig, app_state: AppState) -> None:
    """The routes leave the owner check to the service: a turn running in someone else's conversation
    must not show through as 409 (which would confirm that the conversation exists)."""
    rig.provider.push([TextDelta(text="x"), Hang()])
    started = await rig.service.send(rig.user_id, rig.conversation_id, [{"type": "text", "text": "hi"}])
    async with transaction(app_state.sessions) as session:
        other = User(email="other@example.com", name="Other", password_hash="x")
        session.add(other)
    parts = [{"type": "text", "text": "hijack"}]
    for attempt in (rig.service.send(other.id, rig.conversation_id, parts),
                    rig.service.regenerate(other.id, rig.conversation_id, started.assistant_message.id),
                    rig.service.edit(other.id, rig.conversation_id, started.user_message.id, parts)):
        with pytest.raises(NotFound):
            await attempt
    with pytest.raises(Conflict):  # the owner is told it is busy
        await rig.service.send(rig.user_id, rig.conversation_id, parts)
    started.turn.stop("user")
    await asyncio.wait_for(started.turn.finished.wait(), timeout=10)


@pytest.mark.parametrize("early", [False, True], ids=["model-called-after-save", "model-called-early"])
async def test_a_turn_stopped_before_its_runner_began_is_saved_stopped_and_released(
        rig: Rig, app_state: AppState, early: bool) -> None:
    """Stop right after the send, before the runner task ran once: cancelling a task that never started
    would skip its cleanup (the answer stuck 'streaming', the conversation busy for good). A model
    call started while the turn was saved (chat/early_call) is closed with none of its text used."""
    chat = app_state.settings.chat.model_copy(update={"early_model_call": early})
    rig.service = ChatService(app_state.sessions, rig.bus, TurnRegistry(), ModelRegistry.of(rig.provider),
                              app_state.settings.model_copy(update={"chat": chat}), app_state.billing)
    rig.provider.push([TextDelta(text="never sent"), Hang()])
    started = await rig.service.send(rig.user_id, rig.conversation_id, [{"type": "text", "text": "hi"}])
    started.turn.stop("user")  # no await in between: the runner has not begun
    await asyncio.wait_for(started.turn.finished.wait(), timeout=10)
    answer = await stored_answer(app_state, rig.conversation_id)
    assert (answer.status, answer.text) == ("stopped", "")
    if early:
        assert (len(rig.provider.requests), rig.provider.closed_early) == (1, 1)  # called, then closed
    else:
        assert rig.provider.requests == []  # the model was never called
    rig.provider.push([TextDelta(text="next")])
    again = await rig.service.send(rig.user_id, rig.conversation_id, [{"type": "text", "text": "again"}])
    await asyncio.wait_for(again.turn.finished.wait(), timeout=10)  # the conversation is not left busy
