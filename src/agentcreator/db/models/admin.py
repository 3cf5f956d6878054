from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from agentcreator.db.base import MYSQL_TABLE_ARGS, Base, IdMixin
from agentcreator.db.types import SafeJSON, UTCDateTime, utcnow


class AdminAuditEvent(IdMixin, Base):
    """Who did what to which account, and when. Emails are copied so the log outlives deleted users."""

    __tablename__ = "admin_audit_events"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    actor_email: Mapped[str] = mapped_column(String(320), nullable=False)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    target_user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    target_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(SafeJSON(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True, nullable=False)


class AccountLink(IdMixin, Base):
    """A one-time link an administrator passes on: ``invite`` (create an account) or ``reset`` (set a
    new password). Only the token's SHA-256 is stored."""

    __tablename__ = "account_links"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    purpose: Mapped[str] = mapped_column(String(20), nullable=False)
    # reset: the account; invite: null until used.
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    # invite: the email the account must use, if the administrator named one.
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
