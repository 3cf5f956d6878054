"""Budget ledger rows, reservations and per-user overrides.

A reservation is a conditional ``UPDATE budget_ledger SET reserved = reserved + :amount WHERE ...
AND spent + reserved + :amount <= :limit``: PostgreSQL re-checks the condition after waiting for a
concurrent writer's row lock, InnoDB updates with a locking (current) read, and SQLite serialises
writers, so concurrent reservations can never together pass a limit.

The statements a chat turn runs (reserve, settle) are Core statements built once with bound
parameters: no ORM bulk-update bookkeeping and no statement built and cache-keyed per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import BudgetLedger, BudgetReservation, UsageRecord, UserBudget
from agentcreator.db.types import new_id, utcnow

_ledger = BudgetLedger.__table__
_reservations = BudgetReservation.__table__
_user_budgets = UserBudget.__table__
# b_*: a bound parameter named like a column is reserved in an UPDATE
_KEY = (_ledger.c.scope == bindparam("b_scope"), _ledger.c.subject_id == bindparam("b_subject_id"),
        _ledger.c.period == bindparam("b_period"))


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


def _key(key: LedgerKey) -> dict[str, str]:
    return {"b_scope": key.scope, "b_subject_id": key.subject_id, "b_period": key.period}


_ROW_EXISTS = select(_ledger.c.scope).where(*_KEY)


async def row_exists(session: AsyncSession, key: LedgerKey) -> bool:
    return (await session.execute(_ROW_EXISTS, _key(key))).first() is not None


async def _period_usage(session: AsyncSession, key: LedgerKey, start: datetime, end: datetime) -> Any:
    """(micros, tokens) the usage records of ``key``'s subject hold for the period."""
    column = UsageRecord.assistant_id if key.scope.startswith("assistant") else UsageRecord.user_id
    return (await session.execute(
        select(func.coalesce(func.sum(UsageRecord.cost_micros), 0),
               func.coalesce(func.sum(UsageRecord.input_tokens + UsageRecord.output_tokens), 0))
        .where(column == key.subject_id, UsageRecord.created_at >= start, UsageRecord.created_at < end))).one()


_SQLITE_CREATE_RESERVED = sqlite.insert(_ledger)
_SQLITE_CREATE_RESERVED = _SQLITE_CREATE_RESERVED.on_conflict_do_update(
    index_elements=[_ledger.c.scope, _ledger.c.subject_id, _ledger.c.period],
    set_={"reserved_micros": _ledger.c.reserved_micros + _SQLITE_CREATE_RESERVED.excluded.reserved_micros,
          "reserved_tokens": _ledger.c.reserved_tokens + _SQLITE_CREATE_RESERVED.excluded.reserved_tokens})


async def create_reserved(session: AsyncSession, key: LedgerKey, start: datetime, end: datetime, micros: int,
                          tokens: int) -> None:
    """SQLite: :func:`ensure_row` and an unconditional reservation in one upsert (the row of a
    period's first call, starting from the usage its period already holds)."""
    spent = await _period_usage(session, key, start, end)
    await session.execute(_SQLITE_CREATE_RESERVED, {
        "scope": key.scope, "subject_id": key.subject_id, "period": key.period, "spent_micros": int(spent[0]),
        "reserved_micros": micros, "spent_tokens": int(spent[1]), "reserved_tokens": tokens})


async def ensure_row(session: AsyncSession, key: LedgerKey, start: datetime, end: datetime) -> None:
    """Create the ledger row of ``key`` if missing, starting from what the usage records of the
    period already hold (usage recorded before budgets existed). Safe against concurrent creators.
    On MariaDB the upsert takes the row's exclusive lock at once (INSERT IGNORE would take a shared
    lock, and two such transactions upgrading to the reservation UPDATE would deadlock)."""
    if await row_exists(session, key):
        return
    spent = await _period_usage(session, key, start, end)
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


def _reserve(limit_micros: bool, limit_tokens: bool) -> Any:
    stmt = update(_ledger).where(*_KEY).values(
        reserved_micros=_ledger.c.reserved_micros + bindparam("micros"),
        reserved_tokens=_ledger.c.reserved_tokens + bindparam("tokens"))
    if limit_micros:
        stmt = stmt.where(_ledger.c.spent_micros + _ledger.c.reserved_micros + bindparam("micros")
                          <= bindparam("limit_micros"))
    if limit_tokens:
        stmt = stmt.where(_ledger.c.spent_tokens + _ledger.c.reserved_tokens + bindparam("tokens")
                          <= bindparam("limit_tokens"))
    return stmt


_RESERVE = {(m, t): _reserve(m, t) for m in (False, True) for t in (False, True)}


async def try_reserve(session: AsyncSession, key: LedgerKey, micros: int, tokens: int,
                      limit_micros: int | None, limit_tokens: int | None) -> bool:
    """Add ``micros``/``tokens`` to the reserved amounts unless that would pass a limit."""
    result = await session.execute(_RESERVE[limit_micros is not None, limit_tokens is not None], {
        **_key(key), "micros": micros, "tokens": tokens, "limit_micros": limit_micros,
        "limit_tokens": limit_tokens})
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


# Several ledger rows in one statement (on SQLite, see Billing.reserve_quote): the rows of one call.
MAX_KEYS = 3


def _keys_where(n: int) -> Any:
    return or_(*(and_(_ledger.c.scope == bindparam(f"k{i}_scope"), _ledger.c.subject_id == bindparam(f"k{i}_subject"),
                      _ledger.c.period == bindparam(f"k{i}_period")) for i in range(n)))


def _keys(keys: list[LedgerKey] | tuple[LedgerKey, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for i, key in enumerate(keys):
        params |= {f"k{i}_scope": key.scope, f"k{i}_subject": key.subject_id, f"k{i}_period": key.period}
    return params


_RESERVE_MANY = {n: update(_ledger).where(_keys_where(n)).values(
    reserved_micros=_ledger.c.reserved_micros + bindparam("micros"),
    reserved_tokens=_ledger.c.reserved_tokens + bindparam("tokens"),
).returning(_ledger.c.scope, _ledger.c.subject_id, _ledger.c.period) for n in range(1, MAX_KEYS + 1)}
_APPLY_MANY = {n: update(_ledger).where(_keys_where(n)).values(
    reserved_micros=_ledger.c.reserved_micros - bindparam("release_micros"),
    reserved_tokens=_ledger.c.reserved_tokens - bindparam("release_tokens"),
    spent_micros=_ledger.c.spent_micros + bindparam("spent_micros"),
    spent_tokens=_ledger.c.spent_tokens + bindparam("spent_tokens")) for n in range(1, MAX_KEYS + 1)}


async def reserve_many(session: AsyncSession, keys: list[LedgerKey], micros: int, tokens: int) -> set[LedgerKey]:
    """Add ``micros``/``tokens`` to the reserved amounts of those rows of ``keys`` that exist, with no
    limit check, in one statement; returns the keys whose rows were updated."""
    rows = await session.execute(_RESERVE_MANY[len(keys)], {**_keys(keys), "micros": micros, "tokens": tokens})
    return {LedgerKey(*row) for row in rows}


async def apply(session: AsyncSession, keys: tuple[LedgerKey, ...], *, release_micros: int,
                release_tokens: int, spent_micros: int, spent_tokens: int) -> None:
    """Settle the rows of ``keys`` (at most :data:`MAX_KEYS`) in one statement: drop the reserved
    amounts and add what was really spent."""
    await session.execute(_APPLY_MANY[len(keys)], {
        **_keys(keys), "release_micros": release_micros, "release_tokens": release_tokens,
        "spent_micros": spent_micros, "spent_tokens": spent_tokens})


_ADD_RESERVATION = insert(_reservations)


async def add_reservation(session: AsyncSession, user_id: str, keys: list[LedgerKey], micros: int,
                          tokens: int, *, run_id: str | None = None, worker_id: str | None = None) -> str:
    """Record an open reservation (held by the process ``worker_id``, for the run ``run_id``); returns its id."""
    reservation_id = new_id()
    await session.execute(_ADD_RESERVATION, {
        "id": reservation_id, "user_id": user_id, "keys": [k.as_list() for k in keys], "micros": micros,
        "tokens": tokens, "created_at": utcnow(), "run_id": run_id, "worker_id": worker_id})
    return reservation_id


_TAKE_RESERVATION = delete(_reservations).where(_reservations.c.id == bindparam("reservation_id"))


async def take_reservation(session: AsyncSession, reservation_id: str) -> bool:
    """Delete an open reservation; False when it is already gone (settled, or released at start-up)."""
    result = await session.execute(_TAKE_RESERVATION, {"reservation_id": reservation_id})
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def open_reservations(session: AsyncSession) -> list[BudgetReservation]:
    return list((await session.execute(select(BudgetReservation))).scalars())


async def reservations_of_run(session: AsyncSession, run_id: str) -> list[BudgetReservation]:
    """The run's open reservations, largest first."""
    rows = await session.execute(select(BudgetReservation).where(BudgetReservation.run_id == run_id)
                                 .order_by(BudgetReservation.micros.desc(), BudgetReservation.id))
    return list(rows.scalars())


async def reservations_of_worker(session: AsyncSession, worker_id: str) -> list[BudgetReservation]:
    """What the process ``worker_id`` holds (its runs', titles', summaries' and tool fees' reservations)."""
    rows = await session.execute(select(BudgetReservation).where(BudgetReservation.worker_id == worker_id))
    return list(rows.scalars())


_OVERRIDES = select(_user_budgets.c.overrides).where(_user_budgets.c.user_id == bindparam("user_id"))


async def get_overrides(session: AsyncSession, user_id: str) -> dict[str, Any]:
    overrides = (await session.execute(_OVERRIDES, {"user_id": user_id})).scalar_one_or_none()
    return dict(overrides) if overrides is not None else {}


async def put_overrides(session: AsyncSession, user_id: str, overrides: dict[str, Any]) -> None:
    row = await session.get(UserBudget, user_id)
    if row is None:
        session.add(UserBudget(user_id=user_id, overrides=overrides))
    else:
        row.overrides = overrides
    await session.flush()


async def delete_overrides(session: AsyncSession, user_id: str) -> None:
    await session.execute(delete(UserBudget).where(UserBudget.user_id == user_id))
