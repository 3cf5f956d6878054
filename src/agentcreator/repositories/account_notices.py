"""Notices for an account's owner (owner-scoped; never commit)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import AccountNotice
from agentcreator.db.types import utcnow

# An owner sees the latest ones; more undismissed notices than this are not added (someone retrying).
MAX_OPEN_PER_USER = 20


async def add(session: AsyncSession, user_id: str, kind: str, detail: dict[str, Any] | None = None) -> bool:
    """Add a notice unless the owner already has ``MAX_OPEN_PER_USER`` undismissed; whether it was added."""
    open_count = (await session.execute(select(func.count()).select_from(AccountNotice).where(
        AccountNotice.user_id == user_id, AccountNotice.dismissed_at.is_(None)))).scalar_one()
    if open_count >= MAX_OPEN_PER_USER:
        return False
    session.add(AccountNotice(user_id=user_id, kind=kind, detail=detail, created_at=utcnow()))
    return True


async def list_open(session: AsyncSession, user_id: str) -> list[AccountNotice]:
    rows = await session.execute(select(AccountNotice).where(
        AccountNotice.user_id == user_id, AccountNotice.dismissed_at.is_(None))
        .order_by(AccountNotice.created_at.desc(), AccountNotice.id.desc()))
    return list(rows.scalars())


async def get_owned(session: AsyncSession, user_id: str, notice_id: str) -> AccountNotice | None:
    return (await session.execute(select(AccountNotice).where(
        AccountNotice.id == notice_id, AccountNotice.user_id == user_id))).scalar_one_or_none()
