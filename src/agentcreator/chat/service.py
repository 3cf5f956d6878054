"""Chat use cases: send, regenerate, edit-and-resend, stop, choose a version.

A turn starts with a plain read (conversation and assistant, the messages, the budget quote: owner-
scoped, so another user's conversation is a 404 here) and one short write transaction: claim the
conversation with a conditional UPDATE (it must be as read: a second turn gets 409), save the user
message and an empty ``streaming`` assistant message, reserve the budgets (402 saves nothing). Then
the runner streams with no DB session open. Regenerate adds a sibling answer; edit adds a sibling user message and
answers it: both become the active branch, and older versions stay browsable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing, CallTarget, Reservation
from agentcreator.billing.meter import Quote
from agentcreator.chat import attachments as chat_attachments
from agentcreator.chat import events as ev
from agentcreator.chat import retrieval as chat_retrieval
from agentcreator.chat.bus import EventBus
from agentcreator.chat.continuation import Continuations, counted, read_only
from agentcreator.chat.early_call import EarlyCall, open_unless_stopped
from agentcreator.chat.leases import TurnLeases
from agentcreator.chat.model_request import (
    PromptCache,
    StagedPrompts,
    build_model_request,
    context_report,
    to_chat_message,
)
from agentcreator.chat.runner import RelayPace, TurnPlan, TurnRunner
from agentcreator.chat.titles import TitleWriter
from agentcreator.chat.turn_start import (
    Draft,
    Mode,
    abandon,
    check,
    turn_in_progress,
    user_side,
)
from agentcreator.chat.turn_start import (
    tools_unavailable as why_no_tools,
)
from agentcreator.chat.turns import RunningTurn, TurnRegistry
from agentcreator.chat.watchdog import watch_turn
from agentcreator.chat.window_summary import WindowSummarizer, current_window_summary
from agentcreator.core.config import Settings
from agentcreator.core.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from agentcreator.core.security import AccessClaims
from agentcreator.db.session import session_scope, transaction
from agentcreator.db.types import new_id, utcnow
from agentcreator.llm.base import ModelProvider, ensure_capabilities
from agentcreator.llm.errors import ModelNotFound
from agentcreator.llm.registry import ModelRegistry
from agentcreator.llm.types import ModelInfo, ModelRequest
from agentcreator.rag.knowledge import Knowledge
from agentcreator.repositories import messages as message_repo
from agentcreator.repositories import providers as provider_repo
from agentcreator.repositories import runs as run_repo
from agentcreator.repositories import turns as turn_repo
from agentcreator.repositories import users as user_repo
from agentcreator.repositories.turns import AssistantConfig, ConversationState
from agentcreator.services.files import FileService
from agentcreator.tools import ToolRegistry

DEFAULT_TITLE = "New conversation"

@dataclass
class StartedTurn:
    turn: RunningTurn
    user_message: ev.MessageSnapshot | None
    assistant_message: ev.MessageSnapshot
    continued_from: str | None = None  # the send continued this conversation (message cap reached)

MAX_START_ATTEMPTS = 3  # reads that found the conversation moved by the time of the write, then 409


class _CapReached(Exception):  # a signal inside send(), never raised to a caller
    """The conversation is at its message cap: the send continues it first."""


class ChatService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, turns: TurnRegistry,
                 models: ModelRegistry, settings: Settings, billing: Billing,
                 tools: ToolRegistry | None = None, files: FileService | None = None,
                 knowledge: Knowledge | None = None) -> None:
        self._sessions = sessions
        self._files = files  # attachments in the history are read through it
        self._knowledge = knowledge  # automatic retrieval for models without tool calling
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
        self._continuations = Continuations(sessions, bus, turns, billing, settings, self._resolve)
        self._tasks: set[asyncio.Task[None]] = set()
        self._prompts = PromptCache(max_items=settings.chat.prompt_cache_entries,
                                    max_bytes=settings.chat.prompt_cache_bytes)
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
        except _CapReached:
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
                     continued_from: str | None = None, access: AccessClaims | None = None) -> StartedTurn:
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
            started, plan = await self._prepare(turn, user_id, conversation_id, mode, parts, target_id, access)
        except BaseException:
            abandon(self._turns, turn)
            raise
        started.continued_from = continued_from
        try:
            await self._bus.open(conversation_id, turn.turn_id)
            await self._bus.publish(conversation_id, ev.to_wire(ev.TurnStarted(
                turn_id=turn.turn_id, conversation_id=conversation_id, user_message=started.user_message,
                assistant_message=started.assistant_message, continued_from=continued_from)))
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
                       parts: list[dict[str, Any]] | None, target_id: str | None,
                       access: AccessClaims | None) -> tuple[StartedTurn, TurnPlan]:
        """Work the turn out from a plain read, then write it in one short transaction that first checks,
        under the conversation's row lock (SQLite: the write lock), that nothing moved in between: the
        shown branch and the message count (every message is added through ``messages.add*``, which
        counts it). If something moved, read again."""
        run_id = new_id()
        for _ in range(MAX_START_ATTEMPTS):
            draft = await self._read(user_id, conversation_id, mode, parts, target_id, access)
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
                        tools_unavailable=draft.tools_unavailable, citations=draft.citations, run_id=run_id)
        return started, plan

    def _under_load(self) -> bool:
        """More turns running in this process than ``chat.relay_pace_above_turns``."""
        return len(self._turns) > self._settings.chat.relay_pace_above_turns

    def _may_call_early(self) -> bool:
        """Whether to call the model while the turn is saved (chat/early_call), if no budget can refuse
        the call: not under load, where each event-loop turn the early call adds costs more than the
        ~2 ms write it overlaps."""
        return self._settings.chat.early_model_call and not self._under_load()

    async def _read(self, user_id: str, conversation_id: str, mode: Mode, parts: list[dict[str, Any]] | None,
                    target_id: str | None, access: AccessClaims | None) -> Draft:
        early: EarlyCall | None = None  # the model call, when it goes out before the turn is written
        prompts = self._prompts.staged()  # kept by the cache only if the turn is written
        try:
            async with session_scope(self._sessions) as session:
                if access is None:
                    found = await turn_repo.turn_start(session, user_id, conversation_id)
                else:
                    state, found = await turn_repo.turn_start_with_access(session, user_id, conversation_id,
                                                                          access.session_id)
                    check(access, state)
                if found is None:
                    raise NotFound("Conversation")
                conversation, assistant = found
                if conversation.continued_in_id is not None:
                    raise read_only(conversation)
                rows = await turn_repo.branch_rows(session, conversation_id)
                if any(row.status == "streaming" for row in rows):
                    raise turn_in_progress()
                if assistant is None:
                    raise Conflict("This conversation's assistant was deleted; start a new conversation.",
                                   code="assistant_deleted")
                shown = turn_repo.branch_to(rows, conversation.active_leaf_id) if mode == "send" else []
                if mode == "send" and counted(shown) >= assistant.max_messages:
                    raise _CapReached
                provider_name = assistant.model.partition("/")[0]
                if not await provider_repo.usable_by(session, provider_name, user_id):  # as if not configured
                    raise ValidationFailed(f"Model '{assistant.model}' is not available: provider '{provider_name}' "
                                           "is not configured. Pick another model for this assistant.",
                                           code="model_unavailable")
                provider, info = await self._resolve(assistant.model)
                user_message, answer_parent = user_side(conversation, rows, shown, mode, parts, target_id)
                if user_message is not None and any(p.get("type") == "image" for p in user_message.content):
                    ensure_capabilities(info, ModelRequest(model=info.name, messages=[to_chat_message(user_message)]))
                if mode == "send":  # the new message continues the branch shown
                    branch = [*shown, user_message]
                else:
                    branch = turn_repo.branch_to(rows + ([user_message] if user_message else []), answer_parent.id)
                window_summary = current_window_summary(conversation, {m.id for m in branch}) \
                    if assistant.summarize_dropped else None
                overrides = dict(conversation.owner_budget_overrides or {})
                stored = await chat_attachments.load(session, user_id, branch) if self._files is not None else None
                search = chat_retrieval.file_search_config(assistant.tools) \
                    if self._knowledge is not None and why_no_tools(assistant, info) else None
                if stored is None and search is None:
                    planned, quote, early, tools_unavailable, target = await self._plan(
                        session, user_id, conversation, assistant, provider, info, branch, window_summary, overrides,
                        prompts=prompts)
            resolved = retrieved = None
            if stored is not None or search is not None:  # files and passages are read with no session open
                if stored is not None and self._files is not None:
                    resolved = await chat_attachments.resolve(self._files, branch, stored, provider, info,
                                                              self._settings.files.document_token_budget)
                if search is not None and self._knowledge is not None:
                    retrieved = await chat_retrieval.retrieve(self._knowledge, user_id, search, answer_parent.text,
                                                              min(2000, info.context_length // 4))
                async with session_scope(self._sessions) as session:
                    planned, quote, early, tools_unavailable, target = await self._plan(
                        session, user_id, conversation, assistant, provider, info, branch, window_summary, overrides,
                        resolved.messages if resolved else None, retrieved.text if retrieved else None,
                        prompts=prompts)
            report = context_report(planned, assistant, info, summary=bool(conversation.summary),
                                    window_summary=bool(window_summary))
            report["reserved"] = {"micros": quote.micros, "tokens": quote.tokens}
            if resolved is not None:
                report["attachments"] = resolved.report()
            if retrieved is not None:
                report["retrieval"] = retrieved.report
            placeholder = message_repo.new_message(conversation_id=conversation_id, role="assistant", status="streaming",
                                                   parent_id=answer_parent.id, model=assistant.model, context=report)
            needs_title = conversation.title == DEFAULT_TITLE and sum(m.role == "user" for m in branch) == 1
            first_seq = max((row.seq for row in rows), default=0) + 1
            return Draft(conversation.active_leaf_id, conversation.message_count, first_seq, assistant, provider,
                          planned.request, report, target, quote, user_message, placeholder,
                          answer_parent.text if needs_title else None, early, info, tools_unavailable,
                          retrieved.citations if retrieved else [], planned.prompt_tokens, prompts)
        except BaseException:
            if early is not None:
                await early.aclose()
            raise

    async def _plan(self, session: AsyncSession, user_id: str, conversation: ConversationState,
                    assistant: AssistantConfig, provider: ModelProvider, info: ModelInfo, branch: list[Any],
                    window_summary: str | None, overrides: dict[str, Any],
                    attachments: dict[str, Any] | None = None,
                    retrieved: str | None = None, *,
                    prompts: StagedPrompts) -> tuple[Any, Quote, EarlyCall | None, str | None, CallTarget]:
        """The request for ``branch`` and its quote; the model call goes out now if it can (the quote, the
        report and the write follow while the model works on its first token)."""
        planned = build_model_request(prompts, assistant, provider, info, branch, conversation.summary,
                                      window_summary, attachments, retrieved, user=user_id)
        target = CallTarget.of(user_id, assistant, local=info.local, conversation_id=conversation.id)
        tools_unavailable = why_no_tools(assistant, info)
        has_tools = bool(assistant.tools) and tools_unavailable is None
        early: EarlyCall | None = None
        if not has_tools and self._may_call_early() and not await self._billing.may_refuse(
                session, target, user_overrides=overrides):
            early = await EarlyCall.start(provider, planned.request)
        try:
            quote = await self._billing.quote(session, target, prompt_tokens=planned.prompt_tokens,
                                              max_output_tokens=planned.reply_budget, user_overrides=overrides)
        except BaseException:
            if early is not None:
                await early.aclose()
            raise
        return planned, quote, early, tools_unavailable, target

    async def _write(self, turn: RunningTurn, user_id: str, conversation_id: str,
                     draft: Draft, run_id: str) -> tuple[StartedTurn, Reservation] | None:
        """Save the user message and the placeholder and reserve the budgets (402 rolls it all back);
        None when the conversation moved since it was read.

        The conversation is claimed first: one conditional UPDATE that re-checks, under the row's lock
        (held to the end; SQLite: the write lock), that it is as read, and counts the new messages."""
        added = [m for m in (draft.user_message, draft.placeholder) if m is not None]
        async with transaction(self._sessions) as session:
            now = utcnow()
            if not await turn_repo.claim_turn(session, user_id, conversation_id, expected_leaf=draft.leaf_id,
                                              expected_count=draft.message_count, added=len(added),
                                              new_leaf=draft.placeholder.id, now=now):
                if not await turn_repo.is_owned(session, user_id, conversation_id):
                    raise NotFound("Conversation")
                return None  # it moved (or was continued): read again
            await message_repo.insert_rows(session, added, draft.first_seq, now)
            # Reserve the most this call can cost; a refusal rolls the whole turn back (402, nothing saved).
            reservation = await self._billing.reserve_quote(session, draft.quote, run_id=run_id)
            # The run, owned by this process (its lease: chat/leases), so that another process finishes
            # it if this one dies.
            await run_repo.insert_run(session, run_id=run_id, owner_id=user_id, conversation_id=conversation_id,
                                      message_id=draft.placeholder.id, assistant_id=draft.assistant.id,
                                      model=draft.assistant.model, status="in_progress", rounds=0, cost_micros=0,
                                      worker_id=self._billing.worker_id, turn_id=turn.turn_id,
                                      prompt_tokens=draft.prompt_tokens)
            turn.assistant_message_id = draft.placeholder.id
            user = draft.user_message
            return StartedTurn(turn=turn, user_message=ev.MessageSnapshot.model_validate(user) if user else None,
                               assistant_message=ev.MessageSnapshot.model_validate(draft.placeholder)), reservation

    async def _resolve(self, model_ref: str) -> tuple[ModelProvider, ModelInfo]:
        try:
            provider, _, info = await self._models.resolve(model_ref)
        except ModelNotFound as exc:
            raise ValidationFailed(f"{exc.message}. Pick another model for this assistant.",
                                   code="model_unavailable") from exc
        return provider, info


