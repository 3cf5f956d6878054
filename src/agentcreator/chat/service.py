"""Chat use cases: send, regenerate, edit-and-resend, submit tool outputs (a paused run goes on), stop,
choose a version.

A turn starts with a plain read (conversation and assistant, the messages, the budget quote: owner-
scoped, so another user's conversation is a 404 here) and one short write transaction: claim the
conversation with a conditional UPDATE (it must be as read: a second turn gets 409), save the user
message and an empty ``streaming`` assistant message, reserve the budgets (402 saves nothing). Then
the runner streams with no DB session open. Regenerate adds a sibling answer; edit adds a sibling user message and
answers it: both become the active branch, and older versions stay browsable.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing
from agentcreator.chat import events as ev
from agentcreator.chat.bus import EventBus
from agentcreator.chat.continuation import Continuations
from agentcreator.chat.early_call import open_unless_stopped
from agentcreator.chat.leases import TurnLeases
from agentcreator.chat.runner import RelayPace, TurnPlan, TurnRunner
from agentcreator.chat.titles import TitleWriter
from agentcreator.chat.tool_outputs import ToolOutput
from agentcreator.chat.turn_draft import CapReached, StartedTurn, TurnDrafts
from agentcreator.chat.turn_start import (
    Mode,
    abandon,
    check,
    turn_in_progress,
)
from agentcreator.chat.turns import RunningTurn, TurnRegistry
from agentcreator.chat.watchdog import watch_turn
from agentcreator.chat.window_summary import WindowSummarizer
from agentcreator.core.config import Settings
from agentcreator.core.errors import NotFound, ServiceUnavailable
from agentcreator.core.security import AccessClaims
from agentcreator.db.session import session_scope, transaction
from agentcreator.db.types import new_id
from agentcreator.llm.registry import ModelRegistry
from agentcreator.rag.knowledge import Knowledge
from agentcreator.repositories import turns as turn_repo
from agentcreator.repositories import users as user_repo
from agentcreator.services.files import FileService
from agentcreator.services.provider_access import ProviderAccess
from agentcreator.tools import ToolRegistry

MAX_START_ATTEMPTS = 3  # reads that found the conversation moved by the time of the write, then 409


class ChatService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, turns: TurnRegistry,
                 models: ModelRegistry, settings: Settings, billing: Billing,
                 tools: ToolRegistry | None = None, files: FileService | None = None,
                 knowledge: Knowledge | None = None, provider_access: ProviderAccess | None = None) -> None:
        self._sessions = sessions
        self._bus = bus
        self._turns = turns
        self._models = models
        self._settings = settings
        self._billing = billing
        titles = TitleWriter(sessions, bus, billing) if settings.llm.generate_titles else None
        pace = RelayPace(settings.chat.relay_pace_above_turns, settings.chat.relay_pace_ms / 1000)
        self._runner = TurnRunner(sessions, bus, turns, billing, title_writer=titles,
                                  window_summarizer=WindowSummarizer(sessions, billing), pace=pace, tools=tools,
                                  max_rounds=settings.chat.max_rounds,
                                  tool_output_max_chars=settings.chat.tool_output_max_chars,
                                  checkpoint_seconds=settings.chat.checkpoint_seconds,
                                  checkpoint_tokens=settings.chat.checkpoint_tokens,
                                  checkpoints_per_second=settings.chat.checkpoints_per_second)
        self._drafts = TurnDrafts(sessions, settings, models, billing, files=files, knowledge=knowledge,
                                  under_load=self._under_load, tools=tools, provider_access=provider_access)
        self._continuations = Continuations(sessions, bus, turns, billing, settings, self._drafts.resolve)
        self._tasks: set[asyncio.Task[None]] = set()
        self.leases: TurnLeases | None = None  # set by the app state: finishes dead processes' turns
        self.draining = False  # a shutdown is under way: new turns get 503 (chat/drain.py)

    # --- use cases ------------------------------------------------------------------------------

    # ``access``: the caller's verified access token, when its user and session are still to be
    # checked (HTTP): the check is part of the turn's first read, before anything else (401).

    async def send(self, user_id: str, conversation_id: str, parts: list[dict[str, Any]], *,
                   access: AccessClaims | None = None) -> StartedTurn:
        """Send a message; at the message cap the conversation is continued first (see continuation)."""
        try:
            return await self._start(user_id, conversation_id, "send", parts=parts, access=access)
        except CapReached:
            continued = await self._continuations.room_for_send(user_id, conversation_id)
        if continued is None:
            return await self._start(user_id, conversation_id, "send", parts=parts, access=access)
        return await self._start(user_id, continued.conversation_id, "send", parts=parts,
                                 continued_from=continued.continued_from, access=access)

    async def regenerate(self, user_id: str, conversation_id: str, message_id: str, *,
                         access: AccessClaims | None = None) -> StartedTurn:
        return await self._start(user_id, conversation_id, "regenerate", target_id=message_id, access=access)

    async def edit(self, user_id: str, conversation_id: str, message_id: str,
                   parts: list[dict[str, Any]], *, access: AccessClaims | None = None) -> StartedTurn:
        return await self._start(user_id, conversation_id, "edit", parts=parts, target_id=message_id,
                                 access=access)

    async def submit_tool_outputs(self, user_id: str, conversation_id: str, run_id: str, outputs: list[ToolOutput],
                                  *, access: AccessClaims | None = None) -> StartedTurn:
        """Continue a run paused in ``requires_action`` with one output per pending client-side call
        (chat/tool_outputs): its next model round runs as a turn of its own, writing the same answer."""
        return await self._start(user_id, conversation_id, "resume", target_id=run_id, outputs=outputs, access=access)

    async def stop(self, conversation_id: str) -> bool:
        """Stop the conversation's running turn (the caller checked ownership). False if none runs."""
        local = self._turns.get(conversation_id)
        if local is not None:
            local.stop("user")
            await local.finished.wait()
            return True
        async with session_scope(self._sessions) as session:
            running = await turn_repo.has_streaming(session, conversation_id)
        if running and self.leases is not None and await self.leases.sweep(conversation_id):
            return True  # its process is dead (lease expired): finished here, as interrupted
        if running:  # running on another worker: ask through the bus
            turn_id = await self._bus_turn_id(conversation_id)
            if turn_id:
                await self._bus.request_stop(conversation_id, turn_id)
        return running

    async def select_version(self, user_id: str, conversation_id: str, message_id: str) -> str:
        """Show the branch through ``message_id`` (its newest continuation); returns the new leaf."""
        async with transaction(self._sessions) as session:
            conversation = await turn_repo.lock_owned_conversation(session, user_id, conversation_id)
            if conversation is None:
                raise NotFound("Conversation")
            messages = await turn_repo.all_messages(session, conversation_id)
            if not any(m.id == message_id for m in messages):
                raise NotFound("Message")
            conversation.active_leaf_id = turn_repo.newest_leaf_under(messages, message_id)
            return conversation.active_leaf_id

    async def aclose(self) -> None:
        await self._turns.stop_all("shutdown")
        await self.drain()

    async def drain(self, wait_seconds: float = 10.0) -> None:
        """Wait for every turn task to end, including what runs after the answer (its title)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=wait_seconds)

    # --- internals ------------------------------------------------------------------------------

    async def _bus_turn_id(self, conversation_id: str) -> str | None:
        async for event_id, _ in self._bus.subscribe(conversation_id):
            return event_id.partition(":")[0]
        return None

    async def _start(self, user_id: str, conversation_id: str, mode: Mode, *,
                     parts: list[dict[str, Any]] | None = None, target_id: str | None = None,
                     continued_from: str | None = None, access: AccessClaims | None = None,
                     outputs: list[ToolOutput] | None = None) -> StartedTurn:
        if self.draining:
            raise ServiceUnavailable("This server is restarting; send again (another server takes it).",
                                     code="shutting_down", headers={"Retry-After": "2"})
        if self._turns.get(conversation_id) is not None:
            async with session_scope(self._sessions) as session:  # another user's conversation is a 404, running or not
                if access is not None:
                    check(access, await user_repo.access_state(session, access.user_id, access.session_id))
                if not await turn_repo.is_owned(session, user_id, conversation_id):
                    raise NotFound("Conversation")
            raise turn_in_progress()
        turn = RunningTurn(turn_id=new_id(), conversation_id=conversation_id, assistant_message_id="")
        self._turns.add(turn)  # reserve before any await: a second send in this process gets 409
        try:
            started, plan = await self._prepare(turn, user_id, conversation_id, mode, parts, target_id, access,
                                                outputs)
        except BaseException:
            abandon(self._turns, turn)
            raise
        started.continued_from, started.run_id = continued_from, plan.run_id
        try:
            await self._bus.open(conversation_id, turn.turn_id)
            await self._bus.publish(conversation_id, ev.to_wire(ev.TurnStarted(
                turn_id=turn.turn_id, conversation_id=conversation_id, user_message=started.user_message,
                assistant_message=started.assistant_message, continued_from=continued_from, run_id=plan.run_id)))
        except BaseException:
            if plan.first_call is not None:  # the runner will not take it over
                await plan.first_call.aclose()
            abandon(self._turns, turn)
            raise
        try:
            if plan.first_call is None and not (plan.tool_configs and not plan.tools_unavailable) and self._under_load():
                # Sent from this task, one event-loop turn sooner than from the runner's (~6 ms at 200
                # streams). The response starts once the model server answered with its headers, so
                # only under load: a server that sends them with its first token would hold it back.
                plan.first_call = await open_unless_stopped(turn, plan.provider, plan.request)
        finally:  # even if cancelled meanwhile: the turn is saved, and its runner must finish it
            turn.task = asyncio.create_task(self._runner.run(plan), name=f"turn-{turn.turn_id}")
            watchdog = asyncio.create_task(watch_turn(turn, self._bus, self._settings.chat.disconnect_grace_seconds),
                                           name=f"watch-{turn.turn_id}")
            for task in (turn.task, watchdog):
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return started

    async def _prepare(self, turn: RunningTurn, user_id: str, conversation_id: str, mode: Mode,
                       parts: list[dict[str, Any]] | None, target_id: str | None, access: AccessClaims | None,
                       outputs: list[ToolOutput] | None = None) -> tuple[StartedTurn, TurnPlan]:
        """Work the turn out from a plain read, then write it in one short transaction that first checks,
        under the conversation's row lock (SQLite: the write lock), that nothing moved in between: the
        shown branch and the message count (every message is added through ``messages.add*``, which
        counts it). If something moved, read again."""
        run_id = (target_id or "") if mode == "resume" else new_id()  # a paused run goes on as itself
        for _ in range(MAX_START_ATTEMPTS):
            draft = await self._drafts.read(user_id, conversation_id, mode, parts, target_id, access, outputs,
                                            run_id=run_id)
            early = draft.early
            try:
                written = await self._write(turn, user_id, conversation_id, draft, run_id)
            except BaseException:
                if early is not None:
                    await early.aclose()
                raise
            if written is not None:
                started, reservation = written
                if draft.prompts is not None:
                    draft.prompts.commit()  # accepted: refused turns leave the prompt-token cache as it was
                if early is not None and reservation.capped_output_tokens is not None:
                    # Not expected (an early call goes out only when no budget has a limit), but never let a
                    # call sent with the full allowance run against a capped reservation.
                    await early.aclose()
                    early = None
                break
            if early is not None:
                await early.aclose()
        else:
            raise turn_in_progress()
        plan = TurnPlan(turn=turn, owner_id=user_id, assistant_id=draft.assistant.id,
                        conversation_id=conversation_id, model_ref=draft.assistant.model, provider=draft.provider,
                        model_info=draft.info, request=draft.request, context_report=draft.report,
                        target=draft.target, reservation=reservation, tool_configs=list(draft.assistant.tools or []),
                        generate_title_from=draft.title_from, summarize_dropped=draft.assistant.summarize_dropped,
                        placeholder=started.assistant_message, first_call=early,
                        tools_unavailable=draft.tools_unavailable, citations=draft.citations, run_id=run_id,
                        resumed=draft.resumed.state(draft.request.messages) if draft.resumed else None,
                        budget_overrides=draft.budget_overrides, toolset=draft.toolset,
                        prompt_tokens=draft.prompt_tokens)
        return started, plan

    async def _write(self, turn: RunningTurn, user_id: str, conversation_id: str, draft: Any,
                     run_id: str) -> tuple[StartedTurn, Any] | None:
        """The turn's write transaction (chat/turn_draft); a seam of its own for the interleaving tests."""
        return await self._drafts.write(turn, user_id, conversation_id, draft, run_id)

    def _under_load(self) -> bool:
        """More turns running in this process than ``chat.relay_pace_above_turns``."""
        return len(self._turns) > self._settings.chat.relay_pace_above_turns
