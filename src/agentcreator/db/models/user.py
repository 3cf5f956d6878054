from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from agentcreator.db.base import MYSQL_TABLE_ARGS, Base, IdMixin, TimestampMixin
from agentcreator.db.types import SafeJSON, SafeString, UTCDateTime, utcnow


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(SafeString(200), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_disabled: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # Registered while administrators approve new accounts: cannot sign in until approved.
    is_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    # Bumped to revoke every access token at once (password change, disable, logout-all).
    token_version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuthSession(IdMixin, TimestampMixin, Base):
    """One signed-in device. Its refresh token rotates on every use; presenting an old one
    (reuse) revokes the session. Access tokens carry the session id (``sid``)."""

    __tablename__ = "auth_sessions"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    refresh_token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # The secret this one replaced: presenting it again is a reuse (a stolen token), which ends the
    # session. Any other wrong secret is only refused: knowing a session id ends nothing.
    previous_refresh_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(SafeString(400), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AccountNotice(IdMixin, Base):
    """Something the owner of an account should know at their next sign-in, told by no other means
    (no mail here): e.g. someone tried to register with their email (``registration_attempt``)."""

    __tablename__ = "account_notices"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    detail: Mapped[dict[str, Any] | None] = mapped_column(SafeJSON(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
