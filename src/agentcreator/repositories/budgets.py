"""Budget ledger rows, reservations and per-user overrides.

A reservation is a conditional ``UPDATE budget_ledger SET reserved = reserved + :amount WHERE ...
AND spent + reserved + :amount <= :limit``: PostgreSQL re-checks the condition after waiting for a
concurrent writer's row lock, InnoDB updates with a locking (current) read, and SQLite serialises
writers, so concurrent reservations can never together pass a limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import BudgetLedger, BudgetReservation, UsageRecord, UserBudget


@dataclass(frozen=True)
class LedgerKey:
    scope: str  # user_day | user_month | assistant_month
    subject_id: str
    period: str

    def as_list(self) -> list[str]:
        return [self.scope, self.subject_id, self.period]


def _where(key: LedgerKey) -> tuple[Any, ...]:
    return (BudgetLedger.scope == key.scope, BudgetLedger.subject_id == key.subject_id,
            BudgetLedger.period == key.period)


async def get_row(session: AsyncSession, key: LedgerKey) -> BudgetLedger | None:
    return (await session.execute(select(BudgetLedger).where(*_where(key)))).scalar_one_or_none()


async def ensure_row(session: AsyncSession, key: LedgerKey, start: datetime, end: datetime) -> None:
    """Create the ledger row of ``key`` if missing, starting from what the usage records of the
    period already hold (usage recorded before budgets existed). Safe against concurrent creators.
    On MariaDB the upsert takes the row's exclusive lock at once (INSERT IGNORE would take a shared
    lock, and two such transactions upgrading to the reservation UPDATE would deadlock)."""
    if await get_row(session, key) is not None:
        return
    column = UsageRecord.assistant_id if key.scope.startswith("assistant") else UsageRecord.user_id
    spent = (await session.execute(
        select(func.coalesce(func.sum(UsageRecord.cost_micros), 0),
               func.coalesce(func.sum(UsageRecord.input_tokens + UsageRecord.output_tokens), 0))
        .where(column == key.subject_id, UsageRecord.created_at >= start, UsageRecord.created_at < end))).one()
    values = {"scope": key.scope, "subject_id": key.subject_id, "period": key.period,
              "spent_micros": int(spent[0]), "reserved_micros": 0, "spent_tokens": int(spent[1]),
              "reserved_tokens": 0}
    dialect = session.get_bind().dialect.name
    if dialect == "mysql":
        stmt: Any = mysql.insert(BudgetLedger).values(values)
        stmt = stmt.on_duplicate_key_update(spent_micros=BudgetLedger.__table__.c.spent_micros)
    elif dialect == "postgresql":
        stmt = postgresql.insert(BudgetLedger).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(BudgetLedger).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - the three supported databases are handled above
        stmt = insert(BudgetLedger).values(values)
    await session.execute(stmt)


async def try_reserve(session: AsyncSession, key: LedgerKey, micros: int, tokens: int,
                      limit_micros: int | None, limit_tokens: int | None) -> bool:
    """Add ``micros``/``tokens`` to the reserved amounts unless that would pass a limit."""
    stmt = update(BudgetLedger).where(*_where(key)).values(
        reserved_micros=BudgetLedger.reserved_micros + micros,
        reserved_tokens=BudgetLedger.reserved_tokens + tokens)
    if limit_micros is not None:
        stmt = stmt.where(BudgetLedger.spent_micros + BudgetLedger.reserved_micros + micros <= limit_micros)
    if limit_tokens is not None:
        stmt = stmt.where(BudgetLedger.spent_tokens + BudgetLedger.reserved_tokens + tokens <= limit_tokens)
    result = await session.execute(stmt)
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def apply(session: AsyncSession, key: LedgerKey, *, release_micros: int, release_tokens: int,
                spent_micros: int, spent_tokens: int) -> None:
    """Settle: drop the reserved amounts and add what was really spent."""
    await session.execute(update(BudgetLedger).where(*_where(key)).values(
        reserved_micros=BudgetLedger.reserved_micros - release_micros,
        reserved_tokens=BudgetLedger.reserved_tokens - release_tokens,
        spent_micros=BudgetLedger.spent_micros + spent_micros,
        spent_tokens=BudgetLedger.spent_tokens + spent_tokens))


async def add_reservation(session: AsyncSession, user_id: str, keys: list[LedgerKey], micros: int,
                          tokens: int) -> BudgetReservation:
    reservation = BudgetReservation(user_id=user_id, keys=[k.as_list() for k in keys], micros=micros,
                                    tokens=tokens)
    session.add(reservation)
    await session.flush()
    return reservation


async def take_reservation(session: AsyncSession, reservation_id: str) -> bool:
    """Delete an open reservation; False when it is already gone (settled, or released at start-up)."""
    result = await session.execute(delete(BudgetReservation).where(BudgetReservation.id == reservation_id))
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def open_reservations(session: AsyncSession) -> list[BudgetReservation]:
    return list((await session.execute(select(BudgetReservation))).scalars())


async def get_overrides(session: AsyncSession, user_id: str) -> dict[str, Any]:
    row = await session.get(UserBudget, user_id)
    return dict(row.overrides) if row is not None else {}


async def put_overrides(session: AsyncSession, user_id: str, overrides: dict[str, Any]) -> None:
    row = await session.get(UserBudget, user_id)
    if row is None:
        session.add(UserBudget(user_id=user_id, overrides=overrides))
    else:
        row.overrides = overrides
    await session.flush()


async def delete_overrides(session: AsyncSession, user_id: str) -> None:
    await session.execute(delete(UserBudget).where(UserBudget.user_id == user_id))
