"""Opt-in summaries of what falls out of the history window (assistant ``summarize_dropped``).

After a completed answer whose request dropped messages (window or token budget), the messages that
dropped out since the last summary are folded into the conversation's running ``window_summary`` by
one model call, metered as usage kind "summary" and reserved against the budgets like any call. The
next turns send that summary with the instructions, as long as the last message it covers is on the
branch being shown (after switching to an older version it no longer applies, and is rebuilt).

This runs after the answer is saved, like the title, so it never delays an answer; if the model
fails or no budget is left, the summary simply stays as it was.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing
from agentcreator.billing.metered import metered
from agentcreator.core.errors import AppError, PaymentRequired
from agentcreator.db.models import Conversation, Message
from agentcreator.db.session import session_scope, transaction
from agentcreator.llm.types import ChatMessage, ModelRequest
from agentcreator.repositories import turns as turn_repo

if TYPE_CHECKING:
    from agentcreator.chat.runner import TurnPlan

log = logging.getLogger(__name__)
WINDOW_SUMMARY_HEADING = "Summary of earlier messages of this conversation (no longer shown in full):"
_PROMPT = ("You keep a running summary of a conversation whose oldest messages no longer fit. Update the "
           "summary with the new messages below: keep the user's goals, facts, decisions, names, numbers "
           "and open questions. At most 150 words, no preamble.")
MAX_OUTPUT_TOKENS = 200
MAX_INPUT_CHARS = 24_000


def current_window_summary(conversation: Conversation, branch_ids: set[str]) -> str | None:
    """The running summary, if it still describes the branch being shown."""
    if conversation.window_summary and conversation.window_summary_through_id in branch_ids:
        return conversation.window_summary
    return None


def to_fold(branch: list[Message], dropped_ids: set[str], through_id: str | None) -> list[Message]:
    """The dropped messages of ``branch`` that the summary does not cover yet (chronological)."""
    dropped = [m for m in branch if m.id in dropped_ids and m.text]
    if through_id is not None:
        ids = [m.id for m in branch]
        if through_id in ids:
            covered = ids.index(through_id)
            dropped = [m for m in dropped if ids.index(m.id) > covered]
    return dropped


def _prompt_text(previous: str | None, messages: list[Message]) -> str:
    lines = [f"{m.role}: {m.text}" for m in messages]
    body = "\n\n".join(lines)[-MAX_INPUT_CHARS:]
    head = f"Summary so far:\n{previous}\n\n" if previous else ""
    return f"{head}New messages:\n{body}"


class WindowSummarizer:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], billing: Billing) -> None:
        self._sessions = sessions
        self._billing = billing

    async def __call__(self, plan: TurnPlan) -> None:
        dropped_ids = set(plan.context_report.get("dropped_by_window", [])) | set(
            plan.context_report.get("dropped_by_budget", []))
        if not dropped_ids:
            return
        async with session_scope(self._sessions) as session:
            conversation = await session.get(Conversation, plan.conversation_id)
            if conversation is None:
                return
            messages = await turn_repo.all_messages(session, plan.conversation_id)
        branch = turn_repo.branch_to(messages, plan.turn.assistant_message_id)
        previous = current_window_summary(conversation, {m.id for m in branch})
        folding = to_fold(branch, dropped_ids, conversation.window_summary_through_id if previous else None)
        if not folding:
            return
        request = ModelRequest(model=plan.request.model, instructions=_PROMPT,
                               messages=[ChatMessage.user(_prompt_text(previous, folding))],
                               max_output_tokens=MAX_OUTPUT_TOKENS, temperature=0.2)
        prompt_tokens = plan.provider.count_tokens(request.model, request.messages, request.instructions)
        try:
            async with metered(self._billing, plan.target, prompt_tokens=prompt_tokens,
                               max_output_tokens=MAX_OUTPUT_TOKENS) as call:
                summary, usage = None, None
                try:
                    response = await plan.provider.complete(request)
                    summary, usage = response.text.strip() or None, response.usage
                except AppError as exc:
                    log.info("summarising dropped messages failed (%s); the summary stays as it was", exc.code)
                async with transaction(self._sessions) as session:
                    # Lock order everywhere: the conversation row, then the budget ledger (no deadlocks).
                    conversation = await session.get(Conversation, plan.conversation_id)
                    if conversation is not None and summary:
                        conversation.window_summary = summary
                        conversation.window_summary_through_id = folding[-1].id
                        await session.flush()
                    await call.record(session, kind="summary", usage=usage)
        except PaymentRequired:
            log.info("no budget left to summarise dropped messages; the summary stays as it was")
