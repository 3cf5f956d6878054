"""Sign-in use cases: sessions with rotating refresh tokens, login with rate limits, logout,
password change. Access tokens are JWTs; a refresh token is ``<session_id>.<secret>`` and only
the SHA-256 of the secret is stored."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.core.errors import BadRequest, Forbidden, RateLimited, Unauthorized
from agentcreator.core.ratelimit import Backoff
from agentcreator.core.security import hash_token, new_refresh_secret, tokens_equal
from agentcreator.db.models import User
from agentcreator.db.types import utcnow
from agentcreator.repositories import auth_sessions as session_repo
from agentcreator.repositories import users as user_repo
from agentcreator.services.auth_policy import check_new_password
from agentcreator.state import AppState

INVALID_CREDENTIALS = "Incorrect email or password"
# Password hashing is CPU-bound (argon2id); it runs in a worker thread so the event loop keeps serving.


@dataclass(frozen=True, slots=True)
class ClientInfo:
    address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    user: User
    access_token: str
    refresh_token: str
    expires_in: int


def _refresh_expiry(state: AppState) -> timedelta:
    return timedelta(days=state.settings.auth.refresh_token_days)


def _issue(state: AppState, user: User, session_id: str, secret: str) -> IssuedTokens:
    return IssuedTokens(
        user=user,
        access_token=state.tokens.issue(user.id, session_id, user.token_version),
        refresh_token=f"{session_id}.{secret}",
        expires_in=state.tokens.ttl_seconds,
    )


def start_session(state: AppState, session: AsyncSession, user: User, client: ClientInfo) -> IssuedTokens:
    """Add a new signed-in session for ``user`` (the caller commits) and return its tokens."""
    secret = new_refresh_secret()
    auth_session = session_repo.add(
        session, user_id=user.id, refresh_token_hash=hash_token(secret),
        expires_at=utcnow() + _refresh_expiry(state),
        user_agent=client.user_agent, client_address=client.address,
    )
    user.last_login_at = utcnow()
    return _issue(state, user, auth_session.id, secret)


async def _check_rate(state: AppState, key: str, limit: int) -> None:
    decision = await state.rate_limiter.hit(key, limit, state.settings.auth.login_window_seconds)
    if not decision.allowed:
        raise RateLimited(f"Too many attempts; try again in {decision.retry_after} seconds",
                          retry_after=decision.retry_after)


async def _attempt(state: AppState, key: str, free: int) -> None:
    limits = state.settings.auth
    decision = await state.rate_limiter.attempt(key, Backoff(
        free=free, base=limits.login_backoff_base_seconds, cap=limits.login_backoff_max_seconds,
        memory=limits.login_attempts_memory_seconds))
    if not decision.allowed:
        raise RateLimited(f"Too many sign-in attempts; try again in {decision.retry_after} seconds",
                          retry_after=decision.retry_after)


async def check_registration_rate(state: AppState, address: str | None) -> None:
    limits = state.settings.auth
    decision = await state.rate_limiter.hit(f"register:{address or 'unknown'}", limits.registrations_per_address,
                                            limits.registration_window_seconds)
    if not decision.allowed:
        raise RateLimited(f"Too many registrations from this address; try again in {decision.retry_after} "
                          "seconds", retry_after=decision.retry_after)


async def login(state: AppState, session: AsyncSession, *, email: str, password: str,
                client: ClientInfo) -> IssuedTokens:
    """Sign in, throttled by account and address together and by address across accounts (with
    backoff). Nobody is locked out of their account by someone else's failures from elsewhere."""
    email = email.strip().lower()
    limits = state.settings.auth
    address_key = f"login:address:{client.address or 'unknown'}"
    pair_key = f"login:pair:{client.address or 'unknown'}:{email}"
    await _attempt(state, address_key, limits.login_free_attempts_per_address)
    await _attempt(state, pair_key, limits.login_free_attempts_per_account_and_address)

    user = await user_repo.get_by_email(session, email)
    if user is None:
        await asyncio.to_thread(state.passwords.dummy_verify)
        raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
    valid, new_hash = await asyncio.to_thread(state.passwords.verify, password, user.password_hash)
    if not valid:
        raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
    if user.is_disabled:
        raise Unauthorized("This account is disabled", code="account_disabled")
    if user.is_pending:  # told only to whoever knows the password
        raise Forbidden("Your account is waiting for an administrator's approval; you can sign in once it is "
                        "approved", code="account_pending")
    if new_hash is not None:
        user.password_hash = new_hash  # e.g. an imported bcrypt hash upgraded to argon2id
    issued = start_session(state, session, user, client)
    await session.commit()
    await state.rate_limiter.reset(pair_key)
    await state.rate_limiter.forgive(address_key)
    return issued


def _parse_refresh_token(token: str) -> tuple[str, str]:
    session_id, sep, secret = token.partition(".")
    if not sep or not session_id or not secret or len(session_id) > 32:
        raise Unauthorized("Invalid refresh token", code="invalid_refresh_token")
    return session_id, secret


async def refresh(state: AppState, session: AsyncSession, token: str) -> IssuedTokens:
    """Rotate a session's refresh secret. The secret is verified before anything else: a caller who
    only knows the session id (it is in every access token) learns nothing and ends nothing."""
    session_id, secret = _parse_refresh_token(token)
    found = await session_repo.get_with_user(session, session_id)
    presented = hash_token(secret)
    if found is None:
        raise Unauthorized("Invalid refresh token", code="invalid_refresh_token")
    auth_session, user = found
    current = tokens_equal(presented, auth_session.refresh_token_hash)
    previous = auth_session.previous_refresh_token_hash
    if not current and not (previous is not None and tokens_equal(presented, previous)):
        raise Unauthorized("Invalid refresh token", code="invalid_refresh_token")
    if auth_session.revoked_at is not None:
        raise Unauthorized("Session revoked; sign in again", code="session_revoked")
    if auth_session.expires_at <= utcnow():
        raise Unauthorized("Refresh token expired; sign in again", code="refresh_token_expired")
    if user.is_disabled:
        raise Unauthorized("This account is disabled", code="account_disabled")

    new_secret = new_refresh_secret()
    rotated = current and await session_repo.rotate(
        session, session_id, old_hash=presented, new_hash=hash_token(new_secret),
        expires_at=utcnow() + _refresh_expiry(state),
    )
    if not rotated:
        # The secret this session's current one replaced came back (or a concurrent refresh with the
        # same token won): it may have been stolen. End the whole session.
        await session_repo.revoke(session, session_id, "reuse")
        await session.commit()
        raise Unauthorized("Refresh token already used; the session has been revoked",
                           code="refresh_token_reused")
    await session.commit()
    return _issue(state, user, session_id, new_secret)


async def logout(session: AsyncSession, session_id: str) -> None:
    await session_repo.revoke(session, session_id, "logout")
    await session.commit()


async def logout_all(session: AsyncSession, user: User) -> None:
    user.token_version += 1
    await session_repo.revoke_all(session, user.id, "logout_all")
    await session.commit()


async def change_password(state: AppState, session: AsyncSession, user: User, session_id: str, *,
                          current_password: str, new_password: str, confirm_password: str) -> IssuedTokens:
    """Set a new password, end every other session and rotate the current one."""
    await _check_rate(state, f"password:{user.id}", state.settings.auth.login_attempts_per_account)
    valid, _ = await asyncio.to_thread(state.passwords.verify, current_password, user.password_hash)
    if not valid:
        raise BadRequest("The current password is incorrect", code="invalid_password")
    check_new_password(state.settings.auth, new_password, confirm_password, email=user.email, name=user.name,
                       field="new_password")
    user.password_hash = await asyncio.to_thread(state.passwords.hash, new_password)
    user.token_version += 1
    await session_repo.revoke_all(session, user.id, "password_change", except_id=session_id)
    secret = new_refresh_secret()
    await session_repo.set_secret(session, session_id, new_hash=hash_token(secret),
                                  expires_at=utcnow() + _refresh_expiry(state))
    await session.commit()
    await state.rate_limiter.reset(f"password:{user.id}")
    return _issue(state, user, session_id, secret)
