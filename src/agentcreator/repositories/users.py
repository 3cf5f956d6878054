from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import AuthSession, User
from agentcreator.db.types import new_id


async def get(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def is_admin(session: AsyncSession, user_id: str) -> bool:
    return bool((await session.execute(select(User.is_admin).where(User.id == user_id))).scalar_one_or_none())


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email.lower()))).scalar_one_or_none()


async def count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


# Built once: every authenticated request runs one of these.
_WITH_SESSION = (select(User, AuthSession).join(AuthSession, AuthSession.user_id == User.id)
                 .where(User.id == bindparam("user_id"), AuthSession.id == bindparam("session_id")))
_users = User.__table__
_auth_sessions = AuthSession.__table__
_ACCESS_STATE = (
    select(_users.c.is_disabled, _users.c.token_version, _auth_sessions.c.revoked_at)
    .select_from(_users.join(_auth_sessions, _auth_sessions.c.user_id == _users.c.id))
    .where(_users.c.id == bindparam("user_id"), _auth_sessions.c.id == bindparam("session_id")))


@dataclass(frozen=True, slots=True)
class AccessState:
    """What decides whether an access token still holds: the user's flags and its session's revocation."""

    is_disabled: bool
    token_version: int
    revoked_at: datetime | None


async def get_with_session(session: AsyncSession, user_id: str, session_id: str) -> tuple[User, AuthSession] | None:
    """The user and the auth session an access token names, in one query."""
    row = (await session.execute(_WITH_SESSION, {"user_id": user_id, "session_id": session_id})).first()
    return (row[0], row[1]) if row else None


async def access_state(session: AsyncSession, user_id: str, session_id: str) -> AccessState | None:
    """:func:`get_with_session` reduced to the three columns an access check reads (a Core row: no
    ORM objects), for routes that need only the user's id."""
    row = (await session.execute(_ACCESS_STATE, {"user_id": user_id, "session_id": session_id})).first()
    return AccessState(bool(row[0]), int(row[1]), row[2]) if row else None


def _search_filter(q: str | None) -> list[Any]:
    if not q or not q.strip():
        return []
    needle = q.strip().lower()
    return [or_(func.lower(User.email).contains(needle, autoescape=True),
                func.lower(User.name).contains(needle, autoescape=True))]


async def search(session: AsyncSession, q: str | None, *, limit: int, offset: int,
                 pending: bool | None = None) -> tuple[list[User], int]:
    """Users whose email or name contains ``q`` (case-insensitive), oldest first, with the total count;
    ``pending``: only accounts awaiting approval (True) or only the others (False)."""
    filters = _search_filter(q)
    if pending is not None:
        filters.append(User.is_pending.is_(pending))
    total = int((await session.execute(select(func.count()).select_from(User).where(*filters))).scalar_one())
    rows = (await session.execute(
        select(User).where(*filters).order_by(User.created_at, User.id).limit(limit).offset(offset)
    )).scalars().all()
    return list(rows), total


def add(session: AsyncSession, *, email: str, name: str, password_hash: str, is_admin: bool = False,
        is_pending: bool = False) -> User:
    user = User(id=new_id(), email=email.lower(), name=name, password_hash=password_hash, is_admin=is_admin,
                is_disabled=False, is_pending=is_pending, token_version=1)
    session.add(user)
    return user


async def bump_all_token_versions(session: AsyncSession) -> int:
    """Invalidate every access token of every user at once (secret rotation)."""
    result = await session.execute(update(User).values(token_version=User.token_version + 1)
                                   .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SessionAccess:
    user_id: str
    is_disabled: bool
    token_version: int
    revoked_at: datetime | None


async def session_access(session: AsyncSession, session_ids: list[str]) -> dict[str, SessionAccess]:
    """The access state of many sessions in one query (open WebSockets are checked together)."""
    rows = await session.execute(
        select(_auth_sessions.c.id, _users.c.id, _users.c.is_disabled, _users.c.token_version,
               _auth_sessions.c.revoked_at)
        .select_from(_users.join(_auth_sessions, _auth_sessions.c.user_id == _users.c.id))
        .where(_auth_sessions.c.id.in_(session_ids)))
    return {row[0]: SessionAccess(str(row[1]), bool(row[2]), int(row[3]), row[4]) for row in rows}
