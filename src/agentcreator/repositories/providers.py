from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Provider
from agentcreator.repositories import users as user_repo


async def list_all(session: AsyncSession) -> list[Provider]:
    return list((await session.execute(select(Provider).order_by(Provider.name))).scalars())


async def get(session: AsyncSession, provider_id: str) -> Provider | None:
    return await session.get(Provider, provider_id)


async def get_by_name(session: AsyncSession, name: str) -> Provider | None:
    return (await session.execute(select(Provider).where(Provider.name == name))).scalar_one_or_none()


async def restrictions(session: AsyncSession) -> dict[str, list[str]]:
    """The providers whose use is restricted, by name, with the user ids allowed (administrators always are)."""
    rows = await session.execute(select(Provider.name, Provider.allowed_user_ids))
    return {name: list(allowed) for name, allowed in rows if allowed is not None}  # SQL or JSON null: everyone


async def usable_by(session: AsyncSession, provider_name: str, user_id: str) -> bool:
    """Whether ``user_id`` may use the provider's models (environment providers: everyone; a restricted
    provider: administrators and the users it names)."""
    allowed = (await session.execute(select(Provider.allowed_user_ids).where(Provider.name == provider_name))
               ).scalar_one_or_none()
    if allowed is None or user_id in allowed:
        return True
    return await user_repo.is_admin(session, user_id)


async def version(session: AsyncSession) -> tuple[int, Any]:
    """What changes whenever a provider is added, edited or deleted: how many there are and the
    latest ``updated_at``."""
    count, latest = (await session.execute(select(func.count(), func.max(Provider.updated_at)))).one()
    return int(count), latest
