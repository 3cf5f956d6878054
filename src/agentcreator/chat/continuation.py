"""The message cap: when a conversation's branch holds ``assistant.max_messages`` messages, the next
send continues in a new conversation.

The continuation (``parent_id`` = the old one) gets a short summary of the old conversation, written
by the assistant's model (metered as usage kind "summary", reserved against the budgets like any
call) or, when the model cannot (error, no budget left), a truncated extract of its last messages.
The summary is stored on the new conversation and sent after the instructions on every turn. The
recent messages the context policy keeps (its window, at most half the cap) are copied into the new
conversation, each with ``carried_from_id`` naming the original; copies do not count towards the
cap and carry no cost (the original's usage record has it). The old conversation gets
``continued_in_id`` and becomes read-only: sending, regenerating or editing there answers 409
``conversation_read_only`` with the continuation's id. Deleting the continuation makes the old one
writable again (the foreign key sets ``continued_in_id`` back to NULL).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing, CallTarget
from agentcreator.billing.metered import metered
from agentcreator.chat import events as ev
from agentcreator.chat.bus import EventBus
from agentcreator.chat.context import plan_context
from agentcreator.chat.turns import RunningTurn, TurnRegistry
from agentcreator.core.config import Settings
from agentcreator.core.errors import AppError, Conflict, NotFound, PaymentRequired
from agentcreator.db.models import Assistant, Conversation, Message
from agentcreator.db.session import session_scope, transaction
from agentcreator.db.types import new_id, utcnow
from agentcreator.llm.base import ModelProvider
from agentcreator.llm.types import ChatMessage, ModelInfo, ModelRequest
from agentcreator.repositories import conversations as conversation_repo
from agentcreator.repositories import messages as message_repo
from agentcreator.repositories import turns as turn_repo

log = logging.getLogger(__name__)
SUMMARY_PROMPT = ("Summarise the conversation below for whoever continues it: the user's goals, facts and "
                  "decisions, names, numbers and open questions. At most 150 words, no preamble.")
SUMMARY_HEADING = "Summary of the earlier conversation this one continues:"
Resolver = Callable[[str], Awaitable[tuple[ModelProvider, ModelInfo]]]


def read_only(conversation: Conversation) -> Conflict:
    return Conflict("This conversation reached its message limit and continues in another one; send there.",
                    code="conversation_read_only", details={"continued_in_id": conversation.continued_in_id})


def counted(branch: list[Message]) -> int:
    """Messages that count towards the cap (carried-over copies do not)."""
    return sum(1 for m in branch if m.carried_from_id is None)


def transcript(branch: list[Message]) -> list[str]:
    return [f"{m.role.capitalize()}: {m.text}" for m in branch if m.text]


def extract(lines: list[str], limit: int) -> str:
    """The fallback summary: the end of the transcript, cut to ``limit`` characters."""
    text = "\n".join(lines)
    body = text if len(text) <= limit else "…" + text[-limit:]
    return f"(Extract of the last messages; no summary could be written.)\n{body}"


@dataclass
class Continued:
    conversation_id: str
    continued_from: str


class Continuations:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, turns: TurnRegistry,
                 billing: Billing, settings: Settings, resolve: Resolver) -> None:
        self._sessions = sessions
        self._bus = bus
        self._turns = turns
        self._billing = billing
        self._settings = settings
        self._resolve = resolve

    async def room_for_send(self, user_id: str, conversation_id: str) -> Continued | None:
        """None when the conversation can take another message; otherwise continue it first."""
        async with session_scope(self._sessions) as session:
            conversation = await conversation_repo.get_owned(session, user_id, conversation_id)
            if conversation is None:
                raise NotFound("Conversation")
            if conversation.continued_in_id is not None:
                raise read_only(conversation)
            assistant = await session.get(Assistant, conversation.assistant_id) if conversation.assistant_id else None
            if assistant is None:
                return None  # the turn itself explains that the assistant is gone
            messages = await turn_repo.all_messages(session, conversation_id)
            branch = turn_repo.branch_to(messages, conversation.active_leaf_id)
            if counted(branch) < assistant.max_messages:
                return None
        if self._turns.get(conversation_id) is not None:
            raise Conflict("An answer is still being written in this conversation. Wait for it or stop it first.",
                           code="turn_in_progress")
        placeholder = RunningTurn(turn_id=new_id(), conversation_id=conversation_id, assistant_message_id="")
        self._turns.add(placeholder)  # one continuation at a time per conversation in this process
        try:
            return await self._continue(user_id, conversation, assistant, branch)
        finally:
            self._turns.release(placeholder)
            placeholder.finished.set()

    async def _continue(self, user_id: str, old: Conversation, assistant: Assistant,
                        branch: list[Message]) -> Continued:
        provider, info = await self._resolve(assistant.model)
        target = CallTarget.of(user_id, assistant, local=info.local, conversation_id=old.id)
        carried = self._carried(assistant, provider, info, branch)
        summary, source = await self._summarise(provider, info, target, old, branch)
        async with transaction(self._sessions) as session:
            locked = await turn_repo.lock_owned_conversation(session, user_id, old.id)
            if locked is None:
                raise NotFound("Conversation")
            if locked.continued_in_id is not None:
                raise read_only(locked)
            now = utcnow()
            new = await conversation_repo.add(session, Conversation(
                owner_id=user_id, assistant_id=assistant.id, title=locked.title, archived=False,
                parent_id=locked.id, summary=summary, model=locked.model, message_count=0, last_activity_at=now,
                created_at=now, updated_at=now))
            parent_id: str | None = None
            for original in carried:
                copy = await message_repo.add(session, Message(
                    conversation_id=new.id, role=original.role, content=original.content, text=original.text,
                    status=original.status if original.status != "streaming" else "interrupted",
                    error=original.error, parent_id=parent_id, model=original.model,
                    carried_from_id=original.id))
                parent_id = copy.id
            new.active_leaf_id = parent_id
            locked.continued_in_id = new.id
            await session.flush()
            new_id_ = new.id
        await self._announce(old.id, new_id_, source)
        return Continued(conversation_id=new_id_, continued_from=old.id)

    def _carried(self, assistant: Assistant, provider: ModelProvider, info: ModelInfo,
                 branch: list[Message]) -> list[Message]:
        """What the context policy would keep of the old branch, within half the cap."""
        history = [m for m in branch if m.role == "user" or (m.role == "assistant" and m.text)]
        if not history:
            return []
        window = max(1, min(assistant.history_window, assistant.max_messages // 2))
        try:
            plan = plan_context(history, window=window, context_length=info.context_length,
                                reply_budget=min(info.max_output_tokens, max(256, info.context_length // 4)),
                                instructions_tokens=0,
                                count=lambda m: provider.count_tokens(info.name, [ChatMessage.assistant(m.text)], ""))
        except AppError:
            return history[-1:]
        return plan.kept

    async def _summarise(self, provider: ModelProvider, info: ModelInfo, target: CallTarget, old: Conversation,
                         branch: list[Message]) -> tuple[str, str]:
        """The summary for the new conversation, and whether the model wrote it ("model") or it is an extract."""
        lines = transcript(branch)
        if old.summary:
            lines.insert(0, f"{SUMMARY_HEADING}\n{old.summary}")
        billing_settings = self._settings.billing
        fallback = extract(lines, billing_settings.summary_fallback_chars)
        budget = info.context_length - billing_settings.summary_max_output_tokens - 200
        kept: list[str] = []
        used = provider.count_tokens(info.name, [], SUMMARY_PROMPT)
        for line in reversed(lines):  # the newest lines that fit the model
            tokens = provider.count_tokens(info.name, [ChatMessage.user(line)], "")
            if used + tokens > budget:
                break
            kept.insert(0, line)
            used += tokens
        if not kept:
            return fallback, "extract"
        request = ModelRequest(model=info.name, instructions=SUMMARY_PROMPT,
                               messages=[ChatMessage.user("\n\n".join(kept))],
                               max_output_tokens=billing_settings.summary_max_output_tokens, temperature=0.2)
        try:
            async with metered(self._billing, target, prompt_tokens=used,
                               max_output_tokens=request.max_output_tokens or 0) as call:
                text, usage = "", None
                try:
                    response = await provider.complete(request)
                    text, usage = response.text.strip(), response.usage
                except AppError as exc:
                    log.info("continuation summary failed (%s); using an extract", exc.code)
                async with transaction(self._sessions) as session:  # the summary was paid for, whatever follows
                    await call.record(session, kind="summary", usage=usage)
        except PaymentRequired:
            log.info("no budget left for a continuation summary; using an extract")
            return fallback, "extract"
        return (text, "model") if text and usage is not None else (fallback, "extract")

    async def _announce(self, old_id: str, new_id_: str, source: str) -> None:
        """Tell whoever follows the old conversation (SSE, WebSocket) where it continues."""
        turn_id = new_id()
        await self._bus.open(old_id, turn_id)
        try:
            await self._bus.publish(old_id, ev.to_wire(ev.ConversationContinued(
                conversation_id=old_id, continued_in_id=new_id_, summary_source=source)))
        finally:
            await self._bus.close(old_id, turn_id)
