"""What administrators do to accounts beyond editing them: create a user, invite one by a one-time
link, hand out a one-time password-reset link, delete a user with everything they own. Each action is
written to the admin audit log in the same transaction. The links are redeemed without signing in
(``redeem_invite``, ``redeem_reset``); only a token's SHA-256 is stored."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.core.errors import BadRequest, Conflict, NotFound
from agentcreator.db.models import AccountLink, AdminAuditEvent, User
from agentcreator.db.types import utcnow
from agentcreator.repositories import auth_sessions as session_repo
from agentcreator.repositories import users as user_repo
from agentcreator.repositories.assistants import plausible_id
from agentcreator.services.auth_policy import check_new_password
from agentcreator.state import AppState

LinkPurpose = Literal["invite", "reset"]
EMAIL_TAKEN = "An account with this email already exists"


@dataclass(frozen=True, slots=True)
class IssuedLink:
    token: str
    purpose: LinkPurpose
    email: str | None
    expires_at: Any


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _audit(session: AsyncSession, actor: User, action: str, target: User | None = None, *,
           target_email: str | None = None, **detail: Any) -> None:
    session.add(AdminAuditEvent(actor_id=actor.id, actor_email=actor.email, action=action,
                                target_user_id=target.id if target else None,
                                target_email=target.email if target else target_email,
                                detail=detail or None, created_at=utcnow()))


async def _target(session: AsyncSession, user_id: str) -> User:
    user = await user_repo.get(session, user_id) if plausible_id(user_id) else None
    if user is None:
        raise NotFound("User")
    return user


def _issue(session: AsyncSession, actor: User, purpose: LinkPurpose, hours: int, *, user: User | None = None,
           email: str | None = None) -> IssuedLink:
    token = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(hours=hours)
    session.add(AccountLink(token_hash=_hash(token), purpose=purpose, user_id=user.id if user else None,
                            email=email, created_by=actor.id, expires_at=expires, created_at=utcnow()))
    return IssuedLink(token=token, purpose=purpose, email=email or (user.email if user else None), expires_at=expires)


async def create_user(state: AppState, session: AsyncSession, actor: User, *, email: str, name: str,
                      password: str, is_admin: bool = False) -> User:
    email = email.strip().lower()
    check_new_password(state.settings.auth, password, None, email=email)
    if await user_repo.get_by_email(session, email) is not None:
        raise Conflict(EMAIL_TAKEN, code="email_taken")
    password_hash = await asyncio.to_thread(state.passwords.hash, password)
    user = user_repo.add(session, email=email, name=name.strip(), password_hash=password_hash, is_admin=is_admin)
    try:
        await session.flush()
        _audit(session, actor, "user_created", user, is_admin=is_admin)
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(EMAIL_TAKEN, code="email_taken") from exc
    return user


async def invite(state: AppState, session: AsyncSession, actor: User, *, email: str | None) -> IssuedLink:
    """A one-time link that creates an account, whether registration is open or closed."""
    email = email.strip().lower() if email else None
    if email and await user_repo.get_by_email(session, email) is not None:
        raise Conflict(EMAIL_TAKEN, code="email_taken")
    link = _issue(session, actor, "invite", state.settings.auth.invite_link_hours, email=email)
    _audit(session, actor, "user_invited", target_email=email)
    await session.commit()
    return link


async def reset_link(state: AppState, session: AsyncSession, actor: User, user_id: str) -> IssuedLink:
    """A one-time link to set a new password; older unused reset links of the account stop working."""
    user = await _target(session, user_id)
    await session.execute(delete(AccountLink).where(AccountLink.user_id == user.id, AccountLink.purpose == "reset",
                                                    AccountLink.used_at.is_(None)))
    link = _issue(session, actor, "reset", state.settings.auth.reset_link_hours, user=user)
    _audit(session, actor, "password_reset_link", user)
    await session.commit()
    return link


async def delete_user(session: AsyncSession, actor: User, user_id: str, *, confirm_email: str) -> None:
    """Delete an account and, by foreign-key cascade, everything it owns (assistants, conversations,
    messages, runs, usage, budgets, sessions). ``confirm_email`` must repeat the account's email."""
    user = await _target(session, user_id)
    if user.id == actor.id:
        raise BadRequest("You cannot delete your own account", code="cannot_modify_self")
    if confirm_email.strip().lower() != user.email:
        raise BadRequest("Type the account's email to confirm the deletion", code="confirmation_mismatch")
    _audit(session, actor, "user_deleted", user, name=user.name)
    await session.execute(delete(User).where(User.id == user.id))
    await session.commit()


async def _pending(session: AsyncSession, user_id: str) -> User:
    user = await _target(session, user_id)
    if not user.is_pending:
        raise Conflict("This account is not waiting for approval", code="not_pending")
    return user


async def approve(session: AsyncSession, actor: User, user_id: str) -> User:
    """Let an account registered while approval was required sign in."""
    user = await _pending(session, user_id)
    user.is_pending = False
    _audit(session, actor, "user_approved", user)
    await session.commit()
    return user


async def decline(session: AsyncSession, actor: User, user_id: str) -> None:
    """Delete an account that is waiting for approval (it never signed in, so it owns nothing)."""
    user = await _pending(session, user_id)
    _audit(session, actor, "registration_declined", user, name=user.name)
    await session.execute(delete(User).where(User.id == user.id))
    await session.commit()


async def audit_log(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[AdminAuditEvent], int]:
    total = (await session.execute(select(func.count()).select_from(AdminAuditEvent))).scalar_one()
    rows = await session.execute(select(AdminAuditEvent).order_by(AdminAuditEvent.created_at.desc(),
                                                                  AdminAuditEvent.id.desc()).limit(limit).offset(offset))
    return list(rows.scalars()), int(total)


async def _open_link(session: AsyncSession, token: str, purpose: LinkPurpose) -> AccountLink:
    if not token or len(token) > 200:
        raise NotFound("Link")
    link = (await session.execute(select(AccountLink).where(AccountLink.token_hash == _hash(token))
                                  .with_for_update())).scalar_one_or_none()
    if link is None or link.purpose != purpose or link.used_at is not None or link.expires_at <= utcnow():
        raise NotFound("Link")
    return link


async def link_info(session: AsyncSession, token: str) -> tuple[AccountLink, str | None]:
    """What a valid, unused link is for (and its email); "not found" for anything else."""
    for purpose in ("invite", "reset"):
        try:
            link = await _open_link(session, token, purpose)  # type: ignore[arg-type]
        except NotFound:
            continue
        email = link.email
        if link.user_id:
            user = await user_repo.get(session, link.user_id)
            email = user.email if user else None
        return link, email
    raise NotFound("Link")


async def redeem_invite(state: AppState, session: AsyncSession, token: str, *, name: str, email: str,
                        password: str) -> User:
    link = await _open_link(session, token, "invite")
    email = (link.email or email).strip().lower()
    check_new_password(state.settings.auth, password, None, email=email)
    if await user_repo.get_by_email(session, email) is not None:
        raise Conflict(EMAIL_TAKEN, code="email_taken")
    password_hash = await asyncio.to_thread(state.passwords.hash, password)
    user = user_repo.add(session, email=email, name=name.strip(), password_hash=password_hash)
    try:
        await session.flush()
        link.used_at = utcnow()
        link.user_id = user.id
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(EMAIL_TAKEN, code="email_taken") from exc
    return user


async def redeem_reset(state: AppState, session: AsyncSession, token: str, *, password: str) -> User:
    """Set the new password; every session of the account is signed out."""
    link = await _open_link(session, token, "reset")
    user = await _target(session, link.user_id or "")
    check_new_password(state.settings.auth, password, None, email=user.email)
    user.password_hash = await asyncio.to_thread(state.passwords.hash, password)
    user.token_version += 1
    await session_repo.revoke_all(session, user.id, "password_reset")
    link.used_at = utcnow()
    await session.commit()
    return user
