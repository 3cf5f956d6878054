"""Signed-in sessions (one per device). Refresh secrets are stored as SHA-256 hashes only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import AuthSession, User
from agentcreator.db.types import new_id, utcnow


def add(session: AsyncSession, *, user_id: str, refresh_token_hash: str, expires_at: datetime,
        user_agent: str | None, client_address: str | None) -> AuthSession:
    auth_session = AuthSession(
        id=new_id(), user_id=user_id, refresh_token_hash=refresh_token_hash, expires_at=expires_at,
        user_agent=user_agent[:400] if user_agent else None,
        client_address=client_address[:64] if client_address else None,
    )
    session.add(auth_session)
    return auth_session


async def get(session: AsyncSession, session_id: str) -> AuthSession | None:
    return await session.get(AuthSession, session_id)


async def get_with_user(session: AsyncSession, session_id: str) -> tuple[AuthSession, User] | None:
    row = (await session.execute(
        select(AuthSession, User).join(User, User.id == AuthSession.user_id).where(AuthSession.id == session_id)
    )).first()
    return (row[0], row[1]) if row else None


async def rotate(session: AsyncSession, session_id: str, *, old_hash: str, new_hash: str,
                 expires_at: datetime) -> bool:
    """Swap the refresh secret only if ``old_hash`` is still current (compare-and-set): of two
    concurrent refreshes with the same token, exactly one wins."""
    result = await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.refresh_token_hash == old_hash,
               AuthSession.revoked_at.is_(None))
        .values(refresh_token_hash=new_hash, previous_refresh_token_hash=old_hash, expires_at=expires_at,
                updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def set_secret(session: AsyncSession, session_id: str, *, new_hash: str, expires_at: datetime) -> None:
    await session.execute(
        update(AuthSession).where(AuthSession.id == session_id)
        .values(refresh_token_hash=new_hash, previous_refresh_token_hash=None, expires_at=expires_at,
                updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def revoke(session: AsyncSession, session_id: str, reason: str) -> None:
    await session.execute(
        update(AuthSession).where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def revoke_all(session: AsyncSession, user_id: str, reason: str, *, except_id: str | None = None) -> int:
    """Revoke every live session of a user (but ``except_id``); returns how many were revoked."""
    stmt = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if except_id is not None:
        stmt = stmt.where(AuthSession.id != except_id)
    result = await session.execute(
        stmt.values(revoked_at=utcnow(), revoked_reason=reason, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def revoke_everyone(session: AsyncSession, reason: str) -> int:
    """Revoke every live session of every user (secret rotation); returns how many were revoked."""
    result = await session.execute(
        update(AuthSession).where(AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
