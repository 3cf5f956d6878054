"""Short generated titles for new conversations. The call is metered like any other (reserved
against the budgets first, settled after); if a budget has no room for it or the model gives
nothing usable, the title falls back to the first words of the user's message."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing
from agentcreator.billing.metered import MeteredCall, metered
from agentcreator.chat import events as ev
from agentcreator.chat.bus import EventBus
from agentcreator.chat.title_text import DEFAULT_TITLE, clean_title, fallback_title
from agentcreator.core.errors import AppError, PaymentRequired
from agentcreator.db.models import Conversation
from agentcreator.db.session import transaction
from agentcreator.llm.types import ChatMessage, ModelRequest, Usage

__all__ = ["DEFAULT_TITLE", "TitleWriter", "clean_title", "fallback_title"]

if TYPE_CHECKING:
    from agentcreator.chat.runner import TurnPlan

log = logging.getLogger(__name__)
_PROMPT = ("Write a title of at most six words for a conversation that starts with the user message "
           "below. Answer with the title only: plain text, no quotes, no Markdown.")


class TitleWriter:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, billing: Billing) -> None:
        self._sessions = sessions
        self._bus = bus
        self._billing = billing

    async def __call__(self, plan: TurnPlan) -> None:
        user_text = plan.generate_title_from or ""
        request = ModelRequest(model=plan.request.model, instructions=_PROMPT,
                               messages=[ChatMessage.user(user_text[:2000])], max_output_tokens=16,
                               temperature=0.2)
        title = fallback_title(user_text)
        prompt_tokens = plan.provider.count_tokens(request.model, request.messages, request.instructions)
        try:
            async with metered(self._billing, plan.target, prompt_tokens=prompt_tokens,
                               max_output_tokens=request.max_output_tokens or 16) as call:
                usage = None
                try:
                    response = await plan.provider.complete(request)
                    usage = response.usage
                    title = clean_title(response.text, cut_off=response.finish_reason == "length") or title
                except AppError as exc:
                    log.info("title generation failed (%s); using the first words instead", exc.code)
                retitled = await self._save(plan.conversation_id, title, call, usage)
        except PaymentRequired:
            log.info("no budget left for a generated title; using the first words instead")
            retitled = await self._save(plan.conversation_id, title, None, None)
        if not retitled:
            return
        await self._bus.publish(plan.conversation_id, ev.to_wire(
            ev.ConversationUpdated(conversation_id=plan.conversation_id, title=title)))

    async def _save(self, conversation_id: str, title: str, call: MeteredCall | None, usage: Usage | None) -> bool:
        """Set the title if the conversation still has the default one, and record the call."""
        async with transaction(self._sessions) as session:
            # Lock order everywhere: the conversation row, then the budget ledger (no deadlocks).
            conversation = await session.get(Conversation, conversation_id)
            retitled = conversation is not None and conversation.title == DEFAULT_TITLE
            if conversation is not None and retitled:
                conversation.title = title
                await session.flush()
            if call is not None:
                await call.record(session, kind="title", usage=usage)
        return retitled
