"""Cost management tables: the versioned price table, budget overrides, the budget ledger and the
open reservations against it. Money is always integer micro-dollars (1 USD = 1,000,000)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agentcreator.db.base import MYSQL_TABLE_ARGS, Base, IdMixin, TimestampMixin
from agentcreator.db.types import SafeJSON, SafeText, UTCDateTime, utcnow


class PriceVersion(Base):
    """One edit of the price table. Usage records keep the version they were priced with."""

    __tablename__ = "price_versions"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)  # a user id; None = seeded
    note: Mapped[str] = mapped_column(SafeText(), default="", nullable=False)


class ModelPrice(Base):
    """Rates of the models matching ``pattern`` ("provider/model" or "*/model"; a trailing "*" on the
    model matches a prefix), in micro-dollars per 1M tokens. ``cached_input_rate`` None: no discount."""

    __tablename__ = "model_prices"
    __table_args__ = (UniqueConstraint("version_id", "pattern"), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("price_versions.id", ondelete="CASCADE"), nullable=False)
    pattern: Mapped[str] = mapped_column(String(200), nullable=False)
    input_rate: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cached_input_rate: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    output_rate: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ToolPrice(Base):
    """A per-call tool fee, in micro-dollars per 1,000 calls."""

    __tablename__ = "tool_prices"
    __table_args__ = (UniqueConstraint("version_id", "tool"), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("price_versions.id", ondelete="CASCADE"), nullable=False)
    tool: Mapped[str] = mapped_column(String(100), nullable=False)
    per_1k_calls: Mapped[int] = mapped_column(BigInteger, nullable=False)


class UserBudget(TimestampMixin, Base):
    """An admin's per-user budget overrides: a key present overrides the platform default
    (an integer limit, or None for "unlimited"); an absent key inherits it."""

    __tablename__ = "user_budgets"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    overrides: Mapped[dict[str, Any]] = mapped_column(SafeJSON(), default=dict, nullable=False)


class BudgetLedger(Base):
    """Spent and reserved money and tokens of one budget scope in one period. Reservations are a
    conditional UPDATE on this row (``spent + reserved + amount <= limit``), atomic on every database."""

    __tablename__ = "budget_ledger"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)  # user_day | user_month | assistant_month
    subject_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # a user or an assistant id
    period: Mapped[str] = mapped_column(String(10), primary_key=True)  # "2026-11-21" or "2026-11"
    spent_micros: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    reserved_micros: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    spent_tokens: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    reserved_tokens: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)


class BudgetReservation(IdMixin, Base):
    """An open reservation (a model call in flight). Settling deletes it; reservations a crash left
    open are released at start-up."""

    __tablename__ = "budget_reservations"
    __table_args__ = (Index("ix_budget_reservations_worker", "worker_id"), Index("ix_budget_reservations_run", "run_id"),
                      MYSQL_TABLE_ARGS)

    user_id: Mapped[str] = mapped_column(String(32), nullable=False)
    keys: Mapped[list[list[str]]] = mapped_column(SafeJSON(), nullable=False)  # [[scope, subject, period]]
    micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    # The run it is for (None: a title, a summary...) and the process that holds it: a sweep settles
    # the reservations of a dead process (chat/leases.py).
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
