from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from agentcreator.db.base import MYSQL_TABLE_ARGS, Base, IdMixin, TimestampMixin
from agentcreator.db.types import SafeJSON, UTCDateTime


class Run(IdMixin, TimestampMixin, Base):
    """One turn of an assistant: a loop of steps (model calls, tool calls) that writes one answer.

    ``status``: in_progress, requires_action, completed, failed, cancelled, incomplete (the round
    limit or a budget ended it early; ``ended_by`` says which)."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_conversation_created", "conversation_id", "created_at"),
        Index("ix_runs_message", "message_id"),
        Index("ix_runs_worker_status", "worker_id", "status"),
        MYSQL_TABLE_ARGS,
    )

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    # The answer this run writes (its parts hold the steps as the user sees them).
    message_id: Mapped[str] = mapped_column(String(32), nullable=False)
    assistant_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="in_progress")
    ended_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    rounds: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    error: Mapped[dict[str, Any] | None] = mapped_column(SafeJSON(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Crash safety (chat/leases.py): the process running it (its lease is in ``chat_workers``), the
    # bus turn its followers read, and what a sweep needs to estimate the open model call's usage:
    # that call's prompt tokens and where its text starts in the answer.
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    turn_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    open_from: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


class ChatWorker(Base):
    """A serving process and its lease: renewed every few seconds while it lives. A run whose
    worker's lease has expired is finished by any other process (chat/leases.py)."""

    __tablename__ = "chat_workers"
    __table_args__ = (Index("ix_chat_workers_lease", "lease_until"), MYSQL_TABLE_ARGS)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class RunStep(IdMixin, Base):
    """A finished step of a run: ``model_call`` (usage, finish reason) or ``tool_calls`` (the calls
    of one round, with their results, durations and fees)."""

    __tablename__ = "run_steps"
    __table_args__ = (Index("ix_run_steps_run_index", "run_id", "step_index"), MYSQL_TABLE_ARGS)

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    step_index: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(SafeJSON(), nullable=False, default=dict)
    cost_micros: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
