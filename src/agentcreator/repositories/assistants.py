from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Assistant


async def get_owned(session: AsyncSession, owner_id: str, assistant_id: str) -> Assistant | None:
    return (await session.execute(
        select(Assistant).where(Assistant.id == assistant_id, Assistant.owner_id == owner_id)
    )).scalar_one_or_none()
