from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from agentcreator.db.base import MYSQL_TABLE_ARGS, Base, IdMixin, TimestampMixin
from agentcreator.db.types import SafeJSON, SafeString, SafeText


class Assistant(IdMixin, TimestampMixin, Base):
    __tablename__ = "assistants"
    __table_args__ = (Index("ix_assistants_owner_updated", "owner_id", "updated_at"), MYSQL_TABLE_ARGS)

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(SafeString(200), nullable=False)
    description: Mapped[str] = mapped_column(SafeText(), default="", nullable=False)
    instructions: Mapped[str] = mapped_column(SafeText(), default="", nullable=False)
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    tools: Mapped[list[dict[str, Any]]] = mapped_column(SafeJSON(), default=list, nullable=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(SafeJSON(), default=dict, nullable=False)
    tags: Mapped[list[str]] = mapped_column(SafeJSON(), default=list, nullable=False)
    # Context policy: cap on messages per conversation, and how many recent messages are sent.
    max_messages: Mapped[int] = mapped_column(Integer, default=50, nullable=False)
    history_window: Mapped[int] = mapped_column(Integer, default=20, nullable=False)
    # Monthly budget of this assistant (micro-dollars, tokens); None: no limit of its own.
    budget_monthly_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    budget_monthly_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Opt-in: keep a running summary of the messages that fall out of the history window.
    summarize_dropped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
