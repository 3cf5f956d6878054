from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Conversation


async def get_owned(session: AsyncSession, owner_id: str, conversation_id: str) -> Conversation | None:
    return (await session.execute(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.owner_id == owner_id)
    )).scalar_one_or_none()
