from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Provider


async def list_all(session: AsyncSession) -> list[Provider]:
    return list((await session.execute(select(Provider).order_by(Provider.name))).scalars())


async def get(session: AsyncSession, provider_id: str) -> Provider | None:
    return await session.get(Provider, provider_id)


async def get_by_name(session: AsyncSession, name: str) -> Provider | None:
    return (await session.execute(select(Provider).where(Provider.name == name))).scalar_one_or_none()
