"""The model call started while a turn is saved (chat/early_call.py): when it is made, what it
yields, and that a save that fails closes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update

from agentcreator.chat.bus import MemoryEventBus
from agentcreator.chat.early_call import EarlyCall
from agentcreator.chat.service import ChatService
from agentcreator.chat.turns import TurnRegistry
from agentcreator.core.errors import NotFound
from agentcreator.db.models import Assistant, Conversation, Message, Run
from agentcreator.db.session import transaction
from agentcreator.llm.base import OpenedStream
from agentcreator.llm.registry import ModelRegistry
from agentcreator.llm.testing import Hang, ScriptedProvider, text_events, tool_call_events
from agentcreator.llm.types import ModelRequest, TextDelta
from agentcreator.repositories import budgets as budget_repo
from agentcreator.state import AppState
from tests.chat.seed import seed_conversation

REQUEST = ModelRequest(model="test-model", messages=[])


async def test_the_request_is_made_at_start_and_the_events_come_in_order() -> None:
    provider = ScriptedProvider([text_events("one two")])
    call = await EarlyCall.start(provider, REQUEST)
    assert provider.requests == [REQUEST]  # on the wire before anybody reads
    events = [event async for event in call]
    assert [e.type for e in events] == [e.type for e in text_events("one two")]
    assert "".join(e.text for e in events if e.type == "text_delta") == "one two"
    assert provider.closed_early == 0


async def test_closing_before_the_first_event_cancels_the_call_and_closes_the_stream() -> None:
    provider = ScriptedProvider([[Hang()]])
    call = await EarlyCall.start(provider, REQUEST)
    await asyncio.wait_for(call.aclose(), timeout=5)
    assert provider.closed_early == 1


async def test_closing_after_the_first_event_closes_the_stream() -> None:
    provider = ScriptedProvider([[TextDelta(text="a"), Hang()]])
    call = await EarlyCall.start(provider, REQUEST)
    assert (await anext(call)).text == "a"
    await asyncio.wait_for(call.aclose(), timeout=5)
    assert provider.closed_early == 1


async def test_an_empty_stream_ends_at_once() -> None:
    call = await EarlyCall.start(ScriptedProvider([[]]), REQUEST)
    assert [event async for event in call] == []


# --- through the chat service, on the real database --------------------------------------------

class _Setup:
    def __init__(self, app_state: AppState, provider: ScriptedProvider, service_class: type[ChatService] = ChatService):
        self.provider = provider
        self.bus = MemoryEventBus()
        self.service = service_class(app_state.sessions, self.bus, TurnRegistry(), ModelRegistry.of(provider),
                                     app_state.settings, app_state.billing)


@pytest.fixture
async def ids(app_state: AppState, client: object) -> AsyncIterator[tuple[str, str]]:  # client: empties the tables
    yield await seed_conversation(app_state, "early@example.com")


async def _answer(app_state: AppState, conversation_id: str) -> Message:
    async with app_state.sessions() as session:
        return (await session.execute(select(Message).where(
            Message.conversation_id == conversation_id, Message.role == "assistant"))).scalar_one()


async def test_with_no_budget_limit_the_model_is_called_while_the_turn_is_saved(
        app_state: AppState, ids: tuple[str, str]) -> None:
    user_id, conversation_id = ids
    rig = _Setup(app_state, ScriptedProvider([text_events("early answer")]))
    started = await rig.service.send(user_id, conversation_id, [{"type": "text", "text": "hi"}])
    assert len(rig.provider.requests) == 1  # before the runner task ever ran
    await asyncio.wait_for(started.turn.finished.wait(), timeout=10)
    answer = await _answer(app_state, conversation_id)
    assert (answer.status, answer.text) == ("complete", "early answer")
    await rig.service.aclose()


async def test_with_a_budget_limit_the_model_is_called_only_after_the_reservation(
        app_state: AppState, ids: tuple[str, str]) -> None:
    user_id, conversation_id = ids
    async with transaction(app_state.sessions) as session:
        await budget_repo.put_overrides(session, user_id, {"user_daily_tokens": 1_000_000})
    rig = _Setup(app_state, ScriptedProvider([text_events("after the reservation")]))
    started = await rig.service.send(user_id, conversation_id, [{"type": "text", "text": "hi"}])
    assert rig.provider.requests == []  # the turn is saved and reserved; the runner calls the model
    await asyncio.wait_for(started.turn.finished.wait(), timeout=10)
    answer = await _answer(app_state, conversation_id)
    assert (answer.status, answer.text) == ("complete", "after the reservation")
    assert len(rig.provider.requests) == 1
    await rig.service.aclose()


class _Opens(ScriptedProvider):
    """Records when a call is opened (``open_stream``), whether the turn was saved by then, and what
    was closed unread; ``hold`` keeps an open waiting."""

    def __init__(self, app_state: AppState, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app_state = app_state
        self.opened_after_save: list[bool] = []
        self.hold: asyncio.Event | None = None
        self.opening = asyncio.Event()
        self.closed_unread = 0
        self.cancelled_opens = 0

    async def open_stream(self, request: ModelRequest) -> OpenedStream:
        async with self.app_state.sessions() as session:
            saved = (await session.execute(select(Message.id).where(Message.role == "assistant"))).first()
        self.opened_after_save.append(saved is not None)
        self.opening.set()
        if self.hold is not None:
            try:
                await self.hold.wait()
            except asyncio.CancelledError:
                self.cancelled_opens += 1
                raise

        async def closed() -> None:
            self.closed_unread += 1
        return OpenedStream(self.stream(request), on_close=closed)


def _loaded(app_state: AppState) -> Any:
    """Settings under which every turn is "under load": more turns running than
    ``chat.relay_pace_above_turns`` (0: this turn alone is more)."""
    return app_state.settings.model_copy(update={
        "chat": app_state.settings.chat.model_copy(update={"relay_pace_above_turns": 0})})


async def test_under_load_the_model_is_called_after_the_save_from_the_turns_start(
        app_state: AppState, ids: tuple[str, str]) -> None:
    """Under load the event-loop turns an early call adds cost more than the write it overlaps: the
    call goes out after the save, from the turn's start rather than from its runner's task."""
    user_id, conversation_id = ids
    provider = _Opens(app_state, [text_events("saved first")])
    service = ChatService(app_state.sessions, MemoryEventBus(), TurnRegistry(), ModelRegistry.of(provider),
                          _loaded(app_state), app_state.billing)
    started = await service.send(user_id, conversation_id, [{"type": "text", "text": "hi"}])
    assert provider.opened_after_save == [True]  # opened before send() returned, once the turn was saved
    await asyncio.wait_for(started.turn.finished.wait(), timeout=10)
    assert (await _answer(app_state, conversation_id)).text == "saved first"
    assert provider.closed_unread == 1  # (closing after reading runs the same hook: nothing leaks)
    await service.aclose()


async def test_a_stop_before_the_model_server_answered_cancels_the_call(
        app_state: AppState, ids: tuple[str, str]) -> None:
    """The turn's start waits for the model server's headers: a stop meanwhile does not wait for them
    (they may never come); the send still returns its turn, saved as stopped."""
    user_id, conversation_id = ids
    provider = _Opens(app_state, [text_events("never relayed")])
    provider.hold = asyncio.Event()  # the model server never answers
    service = ChatService(app_state.sessions, MemoryEventBus(), TurnRegistry(), ModelRegistry.of(provider),
                          _loaded(app_state), app_state.billing)
    sending = asyncio.create_task(service.send(user_id, conversation_id, [{"type": "text", "text": "hi"}]))
    await asyncio.wait_for(provider.opening.wait(), timeout=5)
    assert await asyncio.wait_for(service.stop(conversation_id), timeout=5) is True
    started = await asyncio.wait_for(sending, timeout=5)  # not cancelled: the stop was for the call
    assert started.turn.stop_reason == "user"
    answer = await _answer(app_state, conversation_id)
    assert (answer.status, answer.text) == ("stopped", "")
    assert provider.cancelled_opens == 1
    assert provider.requests == []  # no events were read
    await service.aclose()


async def test_an_opened_call_of_a_turn_stopped_before_its_runner_began_is_closed_unread(
        app_state: AppState, ids: tuple[str, str]) -> None:
    user_id, conversation_id = ids
    provider = _Opens(app_state, [[TextDelta(text="never relayed"), Hang()]])
    provider.hold = asyncio.Event()
    turns = TurnRegistry()
    service = ChatService(app_state.sessions, MemoryEventBus(), turns, ModelRegistry.of(provider),
                          _loaded(app_state), app_state.billing)
    sending = asyncio.create_task(service.send(user_id, conversation_id, [{"type": "text", "text": "hi"}]))
    await asyncio.wait_for(provider.opening.wait(), timeout=5)
    turn = turns.get(conversation_id)
    assert turn is not None
    turn.stop_reason = "user"  # as a stop arriving just after the server answered would leave it
    provider.hold.set()
    started = await asyncio.wait_for(sending, timeout=5)
    await asyncio.wait_for(started.turn.finished.wait(), timeout=5)
    answer = await _answer(app_state, conversation_id)
    assert (answer.status, answer.text) == ("stopped", "")
    assert provider.requests == []
    assert provider.closed_unread == 1
    await service.aclose()


class _MovesOnce(ChatService):
    """Another worker adds a message between this service's read and its write, once."""

    moved = False

    async def _write(self, *args: Any, **kwargs: Any) -> Any:
        if not self.moved:
            self.moved = True
            async with transaction(self._sessions) as session:
                await session.execute(update(Conversation).values(message_count=Conversation.message_count + 1))
        return await super()._write(*args, **kwargs)


async def test_a_save_that_finds_the_conversation_moved_closes_its_early_call_and_retries(
        app_state: AppState, ids: tuple[str, str]) -> None:
    user_id, conversation_id = ids
    rig = _Setup(app_state, ScriptedProvider([[TextDelta(text="discarded"), Hang()], text_events("kept")]),
                 service_class=_MovesOnce)
    started = await rig.service.send(user_id, conversation_id, [{"type": "text", "text": "hi"}])
    await asyncio.wait_for(started.turn.finished.wait(), timeout=10)
    assert len(rig.provider.requests) == 2
    assert rig.provider.closed_early == 1  # the first call was closed, none of its text used
    answer = await _answer(app_state, conversation_id)
    assert (answer.status, answer.text) == ("complete", "kept")
    await rig.service.aclose()


class _FailsWhileStopped(ChatService):
    """A stop arrives while the turn is starting, and the start then fails (here: the conversation
    was deleted between the read and the write)."""

    stopping: asyncio.Task[bool] | None = None

    async def _write(self, turn: Any, user_id: str, conversation_id: str, draft: Any, run_id: str) -> Any:
        self.stopping = asyncio.create_task(self.stop(conversation_id))
        await asyncio.sleep(0)  # the stop is waiting for the turn to finish
        raise NotFound("Conversation")


async def test_a_stop_waiting_on_a_turn_whose_start_failed_returns(
        app_state: AppState, ids: tuple[str, str]) -> None:
    user_id, conversation_id = ids
    rig = _Setup(app_state, ScriptedProvider([[TextDelta(text="never used"), Hang()]]),
                 service_class=_FailsWhileStopped)
    with pytest.raises(NotFound):
        await rig.service.send(user_id, conversation_id, [{"type": "text", "text": "hi"}])
    assert rig.service.stopping is not None
    assert await asyncio.wait_for(rig.service.stopping, timeout=5) is True
    assert rig.provider.closed_early == 1  # the early call was closed
    again = _Setup(app_state, ScriptedProvider([text_events("free again")]))  # the conversation is not left busy
    started = await again.service.send(user_id, conversation_id, [{"type": "text", "text": "hi"}])
    await asyncio.wait_for(started.turn.finished.wait(), timeout=10)
    await rig.service.aclose()
    await again.service.aclose()


# --- a run's first call, with its tools --------------------------------------------------------

async def _give_tools(app_state: AppState, conversation_id: str, tools: list[dict[str, Any]]) -> None:
    async with transaction(app_state.sessions) as session:
        assistant_id = (await session.execute(select(Conversation.assistant_id).where(
            Conversation.id == conversation_id))).scalar_one()
        await session.execute(update(Assistant).where(Assistant.id == assistant_id).values(tools=tools))


CLIENT_FUNCTION = {"type": "function", "name": "lookup", "description": "Look it up in the app.",
                   "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}


async def test_a_run_whose_tools_build_from_their_config_sends_its_first_call_with_them_early(
        app_state: AppState, ids: tuple[str, str]) -> None:
    """Function tools are built from the saved config alone: the run's first call (with the tools'
    definitions) goes out while the turn is saved, and the run goes on with the same tool set."""
    user_id, conversation_id = ids
    await _give_tools(app_state, conversation_id, [CLIENT_FUNCTION])
    provider = ScriptedProvider([tool_call_events("lookup", '{"q": "x"}')])
    service = ChatService(app_state.sessions, MemoryEventBus(), TurnRegistry(), ModelRegistry.of(provider),
                          app_state.settings, app_state.billing, tools=app_state.tools)
    started = await service.send(user_id, conversation_id, [{"type": "text", "text": "look x up"}])
    assert len(provider.requests) == 1  # before the runner task ever ran
    assert [tool.name for tool in provider.requests[0].tools or []] == ["lookup"]
    await asyncio.wait_for(started.turn.finished.wait(), timeout=10)
    answer = await _answer(app_state, conversation_id)
    async with app_state.sessions() as session:
        run = (await session.execute(select(Run).where(Run.message_id == answer.id))).scalar_one()
    assert run.status == "requires_action"  # the client-side function was called: the run waits for it
    calls = [part for part in answer.content if part.get("type") == "tool_call"]
    assert [(c["name"], c["status"]) for c in calls] == [("lookup", "requires_action")]
    assert len(provider.requests) == 1
    await service.aclose()


async def test_a_run_with_a_tool_that_reads_the_database_calls_the_model_from_its_runner(
        app_state: AppState, ids: tuple[str, str]) -> None:
    """file_search checks its knowledge bases when built: the tools are built by the run, after the save."""
    user_id, conversation_id = ids
    await _give_tools(app_state, conversation_id, [CLIENT_FUNCTION, {"type": "file_search",
                                                                     "knowledge_base_ids": ["0" * 32]}])
    provider = ScriptedProvider([text_events("no tools needed")])
    service = ChatService(app_state.sessions, MemoryEventBus(), TurnRegistry(), ModelRegistry.of(provider),
                          app_state.settings, app_state.billing, tools=app_state.tools)
    started = await service.send(user_id, conversation_id, [{"type": "text", "text": "hi"}])
    assert provider.requests == []  # the runner builds the tools, then calls the model
    await asyncio.wait_for(started.turn.finished.wait(), timeout=10)
    assert [tool.name for tool in provider.requests[0].tools or []] == ["lookup"]  # file_search: none of yours
    assert (await _answer(app_state, conversation_id)).text.startswith("no tools needed")
    await service.aclose()
