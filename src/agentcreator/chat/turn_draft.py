"""A turn's start, worked out and written (chat/service.py calls it): the plain read of the conversation,
its assistant and messages, with the model request, the quote and, when nothing can refuse it, the
early model call (:meth:`TurnDrafts.read`); then the one short write transaction that claims the
conversation, reserves the budgets and saves the messages and the run (:meth:`TurnDrafts.write`).
Attached files and retrieved passages are read between the two, with no session open."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing, CallTarget, Reservation
from agentcreator.billing.meter import USEFUL_REPLY_TOKENS, Quote
from agentcreator.chat import attachments as chat_attachments
from agentcreator.chat import events as ev
from agentcreator.chat import retrieval as chat_retrieval
from agentcreator.chat.continuation import counted, read_only
from agentcreator.chat.early_call import EarlyCall
from agentcreator.chat.model_request import (
    PromptCache,
    StagedPrompts,
    build_model_request,
    context_report,
    to_chat_message,
)
from agentcreator.chat.round_request import round_request
from agentcreator.chat.title_text import DEFAULT_TITLE
from agentcreator.chat.tool_outputs import ToolOutput, load_paused, reopen
from agentcreator.chat.turn_start import Draft, Mode, check, turn_in_progress, user_side
from agentcreator.chat.turn_start import tools_unavailable as why_no_tools
from agentcreator.chat.turns import RunningTurn
from agentcreator.chat.window_summary import current_window_summary
from agentcreator.core.config import Settings
from agentcreator.core.errors import Conflict, NotFound, ValidationFailed
from agentcreator.core.security import AccessClaims
from agentcreator.db.session import session_scope, transaction
from agentcreator.db.types import utcnow
from agentcreator.llm.base import ModelProvider, ensure_capabilities
from agentcreator.llm.errors import ModelNotFound
from agentcreator.llm.registry import ModelRegistry
from agentcreator.llm.types import ModelInfo, ModelRequest
from agentcreator.rag.knowledge import Knowledge
from agentcreator.repositories import messages as message_repo
from agentcreator.repositories import providers as provider_repo
from agentcreator.repositories import runs as run_repo
from agentcreator.repositories import turns as turn_repo
from agentcreator.repositories.turns import AssistantConfig, ConversationState
from agentcreator.services.files import FileService
from agentcreator.services.provider_access import ProviderAccess
from agentcreator.tools import ToolContext, ToolRegistry, ToolSet


@dataclass
class StartedTurn:
    turn: RunningTurn
    user_message: ev.MessageSnapshot | None
    assistant_message: ev.MessageSnapshot
    continued_from: str | None = None  # the send continued this conversation (message cap reached)
    run_id: str = ""  # the run writing the answer (tool outputs are submitted to it)


class CapReached(Exception):  # a signal inside ChatService.send(), never raised to a caller
    """The conversation is at its message cap: the send continues it first."""


class TurnDrafts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings, models: ModelRegistry,
                 billing: Billing, *, files: FileService | None, knowledge: Knowledge | None,
                 under_load: Callable[[], bool], tools: ToolRegistry | None = None,
                 provider_access: ProviderAccess | None = None) -> None:
        self._sessions = sessions
        self._tools = tools  # a run whose tools build offline sends its first call early
        # The providers' restrictions in memory (the app's); without it they are read on each turn.
        self._usable_by = provider_access.usable_by if provider_access is not None else provider_repo.usable_by
        self._settings = settings
        self._models = models
        self._billing = billing
        self._files = files  # attachments in the history are read through it
        self._knowledge = knowledge  # automatic retrieval for models without tool calling
        self._under_load = under_load
        self._prompts = PromptCache(max_items=settings.chat.prompt_cache_entries,
                                    max_bytes=settings.chat.prompt_cache_bytes)

    def _may_call_early(self) -> bool:
        """Whether to call the model while the turn is saved (chat/early_call), if no budget can refuse
        the call: not under load, where each event-loop turn the early call adds costs more than the
        ~2 ms write it overlaps."""
        return self._settings.chat.early_model_call and not self._under_load()

    async def read(self, user_id: str, conversation_id: str, mode: Mode, parts: list[dict[str, Any]] | None,
                    target_id: str | None, access: AccessClaims | None,
                    outputs: list[ToolOutput] | None = None, run_id: str | None = None) -> Draft:
        """``run_id``: the new run's id (a run's first call may go out early with its tools)."""
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
                if conversation.model:  # its own model (PATCH): resolved, priced and checked as the assistant's
                    assistant = replace(assistant, model=conversation.model)
                paused = await load_paused(session, user_id, conversation, rows, target_id or "", outputs or [],
                                           max_chars=self._settings.chat.tool_output_max_chars, now=utcnow()) \
                    if mode == "resume" else None
                shown = turn_repo.branch_to(rows, conversation.active_leaf_id) if mode == "send" else []
                if mode == "send" and counted(shown) >= assistant.max_messages:
                    raise CapReached
                provider_name = assistant.model.partition("/")[0]
                if not await self._usable_by(session, provider_name, user_id):  # as if not configured
                    raise ValidationFailed(f"Model '{assistant.model}' is not available: provider '{provider_name}' "
                                           "is not configured. Pick another model for this assistant.",
                                           code="model_unavailable")
                provider, info = await self.resolve(assistant.model)
                user_message, answer_parent = user_side(conversation, rows, shown, mode, parts, target_id) \
                    if paused is None else (None, paused.question)
                if user_message is not None and any(p.get("type") == "image" for p in user_message.content):
                    ensure_capabilities(info, ModelRequest(model=info.name, messages=[to_chat_message(user_message)]))
                if mode == "send":  # the new message continues the branch shown
                    branch = [*shown, user_message]
                else:
                    branch = turn_repo.branch_to(rows + ([user_message] if user_message else []), answer_parent.id)
                if paused is not None:  # the paused answer, its calls answered, is sent again
                    branch.append(paused.history)
                window_summary = current_window_summary(conversation, {m.id for m in branch}) \
                    if assistant.summarize_dropped else None
                overrides = dict(conversation.owner_budget_overrides or {})
                stored = await chat_attachments.load(session, user_id, branch) if self._files is not None else None
                search = chat_retrieval.file_search_config(assistant.tools) \
                    if self._knowledge is not None and why_no_tools(assistant, info) else None
                if stored is None and search is None:
                    planned, quote, early, toolset, tools_unavailable, target = await self._plan(
                        session, user_id, conversation, assistant, provider, info, branch, window_summary, overrides,
                        prompts=prompts, run_id=run_id if paused is None else None)
            resolved = retrieved = None
            if stored is not None or search is not None:  # files and passages are read with no session open
                if stored is not None and self._files is not None:
                    resolved = await chat_attachments.resolve(self._files, branch, stored, provider, info,
                                                              self._settings.files.document_token_budget)
                if search is not None and self._knowledge is not None:
                    retrieved = await chat_retrieval.retrieve(
                        self._knowledge, user_id, search, answer_parent.text, min(2000, info.context_length // 4),
                        assistant_id=assistant.id, conversation_id=conversation_id)
                async with session_scope(self._sessions) as session:
                    planned, quote, early, toolset, tools_unavailable, target = await self._plan(
                        session, user_id, conversation, assistant, provider, info, branch, window_summary, overrides,
                        resolved.messages if resolved else None, retrieved.text if retrieved else None,
                        prompts=prompts, run_id=run_id if paused is None else None)
            report = context_report(planned, assistant, info, summary=bool(conversation.summary),
                                    window_summary=bool(window_summary))
            report["reserved"] = {"micros": quote.micros, "tokens": quote.tokens}
            if resolved is not None:
                report["attachments"] = resolved.report()
            if retrieved is not None:
                report["retrieval"] = retrieved.report
            placeholder = paused.answer if paused is not None else message_repo.new_message(
                conversation_id=conversation_id, role="assistant", status="streaming", parent_id=answer_parent.id,
                model=assistant.model, context=report)
            needs_title = conversation.title == DEFAULT_TITLE and sum(m.role == "user" for m in branch) == 1
            first_seq = max((row.seq for row in rows), default=0) + 1
            return Draft(conversation.active_leaf_id, conversation.message_count, first_seq, assistant, provider,
                          planned.request, report, target, quote, user_message, placeholder,
                          answer_parent.text if needs_title else None, early, info, tools_unavailable,
                          retrieved.citations if retrieved else [], planned.prompt_tokens, resumed=paused,
                          prompts=prompts, budget_overrides=overrides, toolset=toolset)
        except BaseException:
            if early is not None:
                await early.aclose()
            raise

    async def _plan(self, session: AsyncSession, user_id: str, conversation: ConversationState,
                    assistant: AssistantConfig, provider: ModelProvider, info: ModelInfo, branch: list[Any],
                    window_summary: str | None, overrides: dict[str, Any],
                    attachments: dict[str, Any] | None = None,
                    retrieved: str | None = None, *,
                    prompts: StagedPrompts, run_id: str | None,
                    ) -> tuple[Any, Quote, EarlyCall | None, ToolSet | None, str | None, CallTarget]:
        """The request for ``branch`` and its quote; the model call goes out now if it can (the quote, the
        report and the write follow while the model works on its first token). A new run (``run_id``)
        whose tools are all built from their saved configs (tools/registry ``builds_offline``) sends its
        first round that way too, with its tool set built here (returned: the run uses it)."""
        planned = build_model_request(prompts, assistant, provider, info, branch, conversation.summary,
                                      window_summary, attachments, retrieved, user=user_id)
        target = CallTarget.of(user_id, assistant, local=info.local, conversation_id=conversation.id)
        tools_unavailable = why_no_tools(assistant, info)
        has_tools = bool(assistant.tools) and tools_unavailable is None
        early: EarlyCall | None = None
        toolset: ToolSet | None = None
        can_host = ToolRegistry.can_host(info.hosted_tools, provider.hosted_tool_types)
        registry = self._tools if has_tools and run_id is not None else None  # a new run's tools
        builds_here = registry is not None and registry.builds_offline(assistant.tools, can_host)
        if (builds_here or not has_tools) and self._may_call_early() and not await self._billing.may_refuse(
                session, target, user_overrides=overrides):
            request = planned.request
            if builds_here and registry is not None and run_id is not None:
                toolset = await registry.build(assistant.tools, ToolContext(
                    user_id=user_id, conversation_id=conversation.id, assistant_id=assistant.id, run_id=run_id),
                    can_host)
                request = round_request(request, toolset, request.messages, toolset.definitions(), index=0,
                                        max_rounds=self._settings.chat.max_rounds, first=True,
                                        full_reply=planned.reply_budget)
            early = await EarlyCall.start(provider, request)
        try:
            quote = await self._billing.quote(session, target, prompt_tokens=planned.prompt_tokens,
                                              max_output_tokens=planned.reply_budget, user_overrides=overrides,
                                              min_output_tokens=USEFUL_REPLY_TOKENS)
        except BaseException:
            if early is not None:
                await early.aclose()
            raise
        return planned, quote, early, toolset, tools_unavailable, target

    async def write(self, turn: RunningTurn, user_id: str, conversation_id: str,
                     draft: Draft, run_id: str) -> tuple[StartedTurn, Reservation] | None:
        """Save the user message and the placeholder and reserve the budgets (402 rolls it all back);
        None when the conversation moved since it was read.

        The conversation is claimed first: one conditional UPDATE that re-checks, under the row's lock
        (held to the end; SQLite: the write lock), that it is as read, and counts the new messages."""
        added = [m for m in (draft.user_message, draft.placeholder) if m is not None] if draft.resumed is None else []
        async with transaction(self._sessions) as session:
            now = utcnow()
            if not await turn_repo.claim_turn(session, user_id, conversation_id, expected_leaf=draft.leaf_id,
                                              expected_count=draft.message_count, added=len(added),
                                              new_leaf=draft.placeholder.id, now=now):
                if not await turn_repo.is_owned(session, user_id, conversation_id):
                    raise NotFound("Conversation")
                return None  # it moved (or was continued): read again
            # Reserve the most this call can cost; a refusal rolls the whole turn back (402, nothing saved).
            # A reply allowance the budgets cannot cover is capped to what they can (at least a useful reply).
            reservation = await self._billing.reserve_quote(session, draft.quote, run_id=run_id)
            if reservation.capped_output_tokens is not None:
                draft.request = draft.request.model_copy(
                    update={"max_output_tokens": reservation.capped_output_tokens})
                draft.report["reply_capped_to"] = reservation.capped_output_tokens  # saved with the placeholder
            if draft.resumed is not None:  # the outputs go into the answer; the run is this process's again
                await reopen(session, draft.resumed, worker_id=self._billing.worker_id, turn_id=turn.turn_id,
                             prompt_tokens=draft.prompt_tokens)
            else:
                await message_repo.insert_rows(session, added, draft.first_seq, now)
            # The run, owned by this process (its lease: chat/leases), so that another process finishes
            # it if this one dies.
            if draft.resumed is None:
                await run_repo.insert_run(session, run_id=run_id, owner_id=user_id, conversation_id=conversation_id,
                                          message_id=draft.placeholder.id, assistant_id=draft.assistant.id,
                                          model=draft.assistant.model, status="in_progress", rounds=0,
                                          cost_micros=0, worker_id=self._billing.worker_id, turn_id=turn.turn_id,
                                          prompt_tokens=draft.prompt_tokens)
            turn.assistant_message_id = draft.placeholder.id
            user = draft.user_message
            return StartedTurn(turn=turn, user_message=ev.MessageSnapshot.model_validate(user) if user else None,
                               assistant_message=ev.MessageSnapshot.model_validate(draft.placeholder)), reservation

    async def resolve(self, model_ref: str) -> tuple[ModelProvider, ModelInfo]:
        try:
            provider, _, info = await self._models.resolve(model_ref)
        except ModelNotFound as exc:
            raise ValidationFailed(f"{exc.message}. Pick another model for this assistant.",
                                   code="model_unavailable") from exc
        return provider, info
