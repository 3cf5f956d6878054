"""Account use cases: registration (the first user becomes admin), profile, administration of
users and platform settings, and ``create-admin`` for the command line."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.core.errors import BadRequest, Conflict, Forbidden, NotFound
from agentcreator.db.models import User
from agentcreator.db.session import session_scope
from agentcreator.repositories import auth_sessions as session_repo
from agentcreator.repositories import platform_settings as settings_repo
from agentcreator.repositories import users as user_repo
from agentcreator.services.auth import ClientInfo, IssuedTokens, check_registration_rate, start_session
from agentcreator.services.auth_policy import check_new_password
from agentcreator.state import AppState

EMAIL_TAKEN = "An account with this email already exists"


def _email_taken() -> Conflict:
    return Conflict(EMAIL_TAKEN, code="email_taken")


async def registration_open(session: AsyncSession) -> bool:
    return bool(await settings_repo.get(session, settings_repo.REGISTRATION_OPEN))


async def any_account(session: AsyncSession) -> bool:
    """Whether an account exists (until then the first registration becomes the administrator)."""
    return await user_repo.count(session) > 0


async def register(state: AppState, session: AsyncSession, *, name: str, email: str, password: str,
                   confirm_password: str, client: ClientInfo) -> IssuedTokens:
    email = email.strip().lower()
    if not await registration_open(session):
        raise Forbidden("Registration is closed; ask an administrator for an account",
                        code="registration_closed")
    await check_registration_rate(state, client.address)
    check_new_password(state.settings.auth, password, confirm_password, email=email, name=name)
    if await user_repo.get_by_email(session, email) is not None:
        raise _email_taken()
    password_hash = await asyncio.to_thread(state.passwords.hash, password)
    user = user_repo.add(session, email=email, name=name, password_hash=password_hash)
    try:
        await session.flush()
        # The first account administers the platform. Counting inside the transaction is not
        # enough under concurrency, so the first registrant also claims a marker row whose
        # primary key lets exactly one of several simultaneous "first" users win.
        if await user_repo.count(session) == 1:
            user.is_admin = await settings_repo.claim(session, settings_repo.FIRST_ADMIN, user.id)
        issued = start_session(state, session, user, client)
        await session.commit()
    except IntegrityError as exc:  # a concurrent registration took the email first
        await session.rollback()
        raise _email_taken() from exc
    return issued


async def update_profile(session: AsyncSession, user: User, *, name: str) -> User:
    user.name = name
    await session.commit()
    return user


async def list_users(session: AsyncSession, *, q: str | None, limit: int, offset: int) -> tuple[list[User], int]:
    return await user_repo.search(session, q, limit=limit, offset=offset)


async def admin_update_user(session: AsyncSession, actor: User, user_id: str, *, name: str | None = None,
                            is_admin: bool | None = None, is_disabled: bool | None = None) -> User:
    target = await user_repo.get(session, user_id)
    if target is None:
        raise NotFound("User")
    if target.id == actor.id and (is_disabled is True or is_admin is False):
        raise BadRequest("You cannot disable or demote your own account", code="cannot_modify_self")
    if name is not None:
        target.name = name
    if is_admin is not None:
        target.is_admin = is_admin
    if is_disabled is not None and is_disabled != target.is_disabled:
        target.is_disabled = is_disabled
        if is_disabled:
            target.token_version += 1
            await session_repo.revoke_all(session, target.id, "disabled")
    await session.commit()
    return target


@dataclass(frozen=True, slots=True)
class PlatformSettings:
    registration_open: bool


async def get_platform_settings(session: AsyncSession) -> PlatformSettings:
    return PlatformSettings(registration_open=await registration_open(session))


async def update_platform_settings(session: AsyncSession, *, registration_open: bool | None) -> PlatformSettings:
    if registration_open is not None:
        await settings_repo.put(session, settings_repo.REGISTRATION_OPEN, registration_open)
    await session.commit()
    return await get_platform_settings(session)


async def create_admin(state: AppState, *, email: str, name: str, password: str) -> str:
    """Create an administrator, or promote the existing account with this email (its password is
    left unchanged). Returns a message for the operator."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise ValueError(f"not an email address: {email!r}")
    name = name.strip() or "Administrator"
    async with session_scope(state.sessions) as session:
        existing = await user_repo.get_by_email(session, email)
        if existing is not None:
            if existing.is_admin and not existing.is_disabled:
                return f"{email} is already an administrator; nothing changed"
            existing.is_admin = True
            existing.is_disabled = False
            await session.commit()
            return f"promoted existing user {email} to administrator (password unchanged)"
        check_new_password(state.settings.auth, password, None, email=email, name=name)
        password_hash = await asyncio.to_thread(state.passwords.hash, password)
        user = user_repo.add(session, email=email, name=name, password_hash=password_hash, is_admin=True)
        await session.flush()
        await settings_repo.claim(session, settings_repo.FIRST_ADMIN, user.id)
        await session.commit()
        return f"created administrator {email}"
