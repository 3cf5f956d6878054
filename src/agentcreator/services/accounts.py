"""Account use cases: registration (the first user becomes admin), profile, administration of
users and platform settings, and ``create-admin`` for the command line."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.core.errors import BadRequest, Forbidden, NotFound
from agentcreator.db.models import AccountNotice, User
from agentcreator.db.session import session_scope
from agentcreator.db.types import utcnow
from agentcreator.repositories import account_notices as notice_repo
from agentcreator.repositories import auth_sessions as session_repo
from agentcreator.repositories import platform_settings as settings_repo
from agentcreator.repositories import users as user_repo
from agentcreator.services.auth import ClientInfo, check_registration_rate
from agentcreator.services.auth_policy import check_new_password
from agentcreator.state import AppState

RegistrationStatus = Literal["created", "pending_approval"]
REGISTRATION_MESSAGES: dict[str, str] = {
    "created": "Your account is ready: sign in with your email and password.",
    "pending_approval": "Thanks! An administrator approves new accounts; you can sign in once yours is approved.",
}


async def registration_open(session: AsyncSession) -> bool:
    return bool(await settings_repo.get(session, settings_repo.REGISTRATION_OPEN))


async def approval_required(session: AsyncSession) -> bool:
    return bool(await settings_repo.get(session, settings_repo.REGISTRATION_REQUIRES_APPROVAL))


async def any_account(session: AsyncSession) -> bool:
    """Whether an account exists (until then the first registration becomes the administrator)."""
    return await user_repo.count(session) > 0


async def register(state: AppState, session: AsyncSession, *, name: str, email: str, password: str,
                   confirm_password: str, client: ClientInfo) -> RegistrationStatus:
    """Create an account (pending while administrators approve new ones); nobody is signed in here.

    The answer never says whether the email already had an account: for an existing one the password
    is hashed all the same (the same work and time), nothing about the account changes, and its owner
    finds a notice at their next sign-in (there is no mail to tell them sooner). The status depends
    only on the platform's settings."""
    email = email.strip().lower()
    if not await registration_open(session):
        raise Forbidden("Registration is closed; ask an administrator for an account",
                        code="registration_closed")
    await check_registration_rate(state, client.address)
    check_new_password(state.settings.auth, password, confirm_password, email=email, name=name)
    status: RegistrationStatus = "pending_approval" if await approval_required(session) else "created"
    password_hash = await asyncio.to_thread(state.passwords.hash, password)
    existing = await user_repo.get_by_email(session, email)
    if existing is not None:
        await _tell_owner(session, existing.id, client)
        return status
    user = user_repo.add(session, email=email, name=name, password_hash=password_hash,
                         is_pending=status == "pending_approval")
    try:
        await session.flush()
        # The first account administers the platform (and needs nobody's approval). Counting inside
        # the transaction is not enough under concurrency, so the first registrant also claims a
        # marker row whose primary key lets exactly one of several simultaneous "first" users win.
        if await user_repo.count(session) == 1 and await settings_repo.claim(session, settings_repo.FIRST_ADMIN,
                                                                             user.id):
            user.is_admin, user.is_pending = True, False
        await session.commit()
    except IntegrityError:  # a concurrent registration took the email first: the same answer
        await session.rollback()
        if (taken := await user_repo.get_by_email(session, email)) is not None:
            await _tell_owner(session, taken.id, client)
        return status
    return "pending_approval" if user.is_pending else "created"


async def _tell_owner(session: AsyncSession, user_id: str, client: ClientInfo) -> None:
    await notice_repo.add(session, user_id, "registration_attempt",
                          {"address": client.address, "user_agent": (client.user_agent or "")[:200] or None})
    await session.commit()


async def open_notices(session: AsyncSession, user: User) -> list[AccountNotice]:
    return await notice_repo.list_open(session, user.id)


async def dismiss_notice(session: AsyncSession, user: User, notice_id: str) -> None:
    """Mark one of ``user``'s notices seen; another user's is "not found"."""
    notice = await notice_repo.get_owned(session, user.id, notice_id) if len(notice_id) <= 32 else None
    if notice is None:
        raise NotFound("Notice")
    notice.dismissed_at = notice.dismissed_at or utcnow()
    await session.commit()


async def update_profile(session: AsyncSession, user: User, *, name: str) -> User:
    user.name = name
    await session.commit()
    return user


async def list_users(session: AsyncSession, *, q: str | None, limit: int, offset: int,
                     pending: bool | None = None) -> tuple[list[User], int]:
    return await user_repo.search(session, q, limit=limit, offset=offset, pending=pending)


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
    registration_requires_approval: bool


async def get_platform_settings(session: AsyncSession) -> PlatformSettings:
    return PlatformSettings(registration_open=await registration_open(session),
                            registration_requires_approval=await approval_required(session))


async def update_platform_settings(session: AsyncSession, *, registration_open: bool | None,
                                   registration_requires_approval: bool | None = None) -> PlatformSettings:
    if registration_open is not None:
        await settings_repo.put(session, settings_repo.REGISTRATION_OPEN, registration_open)
    if registration_requires_approval is not None:
        await settings_repo.put(session, settings_repo.REGISTRATION_REQUIRES_APPROVAL, registration_requires_approval)
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
            if existing.is_admin and not existing.is_disabled and not existing.is_pending:
                return f"{email} is already an administrator; nothing changed"
            existing.is_admin = True
            existing.is_disabled = False
            existing.is_pending = False  # an operator's word is the approval
            await session.commit()
            return f"promoted existing user {email} to administrator (password unchanged)"
        check_new_password(state.settings.auth, password, None, email=email, name=name)
        password_hash = await asyncio.to_thread(state.passwords.hash, password)
        user = user_repo.add(session, email=email, name=name, password_hash=password_hash, is_admin=True)
        await session.flush()
        await settings_repo.claim(session, settings_repo.FIRST_ADMIN, user.id)
        await session.commit()
        return f"created administrator {email}"
