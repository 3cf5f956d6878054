"""Short generated titles for new conversations. The call is metered like any other (reserved
against the budgets first, settled after); if a budget has no room for it or the model gives
nothing usable, the title falls back to the first words of the user's message."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing
from agentcreator.billing.metered import MeteredCall, metered
from agentcreator.chat import events as ev
from agentcreator.chat.bus import EventBus
from agentcreator.core.errors import AppError, PaymentRequired
from agentcreator.db.models import Conversation
from agentcreator.db.session import transaction
from agentcreator.llm.types import ChatMessage, ModelRequest, Usage

if TYPE_CHECKING:
    from agentcreator.chat.runner import TurnPlan

log = logging.getLogger(__name__)
DEFAULT_TITLE = "New conversation"
_PROMPT = ("Write a title of at most six words for a conversation that starts with the user message "
           "below. Answer with the title only, no quotes.")


def clean_title(raw: str, max_length: int = 80) -> str:
    line = next((line for line in raw.strip().splitlines() if line.strip()), "")
    line = re.sub(r"^(title\s*:\s*)", "", line.strip(), flags=re.IGNORECASE)
    line = line.strip(" \t\"'`*#.")
    return line[:max_length].strip()


def fallback_title(user_text: str, words: int = 6) -> str:
    picked = " ".join(user_text.split()[:words])
    return clean_title(picked) or DEFAULT_TITLE


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
                    title = clean_title(response.text) or title
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
