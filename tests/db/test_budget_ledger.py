"""Reserving and settling a call's budgets on the real database: every budget row is reserved exactly
once, whether it existed or is created by this call (SQLite: one statement for the existing rows;
database servers: one per budget), and settling gives the reservation back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agentcreator.billing.budgets import BudgetCheck
from agentcreator.billing.meter import Quote
from agentcreator.db.models import BudgetLedger
from agentcreator.db.session import transaction
from agentcreator.db.types import new_id
from agentcreator.repositories import budgets as budget_repo
from agentcreator.repositories.budgets import LedgerKey
from agentcreator.state import AppState


def _checks(user_id: str, assistant_id: str) -> tuple[BudgetCheck, ...]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = start + timedelta(days=30)
    return (BudgetCheck(LedgerKey("user_day", user_id, "2026-11-21"), None, None, start, end),
            BudgetCheck(LedgerKey("user_month", user_id, "2026-11"), None, None, start, end),
            BudgetCheck(LedgerKey("assistant_month", assistant_id, "2026-11"), None, None, start, end, "A"))


async def _reserved(app_state: AppState, keys: list[LedgerKey]) -> list[tuple[int, int]]:
    async with app_state.sessions() as session:
        out = []
        for key in keys:
            row = (await session.execute(select(BudgetLedger).where(
                BudgetLedger.scope == key.scope, BudgetLedger.subject_id == key.subject_id,
                BudgetLedger.period == key.period))).scalar_one()
            out.append((row.reserved_micros, row.reserved_tokens))
        return out


async def test_each_budget_is_reserved_once_whether_its_row_existed_or_not(app_state: AppState) -> None:
    user_id, assistant_id = new_id(), new_id()
    checks = _checks(user_id, assistant_id)
    keys = [check.key for check in checks]
    async with transaction(app_state.sessions) as session:  # only the month's row exists so far
        await budget_repo.ensure_row(session, keys[1], checks[1].start, checks[1].end)
    quote = Quote(user_id, 1_000, 50, checks)
    async with transaction(app_state.sessions) as session:
        first = await app_state.billing.reserve_quote(session, quote)
    assert await _reserved(app_state, keys) == [(1_000, 50)] * 3
    async with transaction(app_state.sessions) as session:  # now every row exists
        second = await app_state.billing.reserve_quote(session, quote)
    assert await _reserved(app_state, keys) == [(2_000, 100)] * 3
    await app_state.billing.release(first)
    await app_state.billing.release(second)
    assert await _reserved(app_state, keys) == [(0, 0)] * 3


async def test_reserve_many_updates_only_the_rows_that_exist(app_state: AppState) -> None:
    if not app_state.sessions.kw["bind"].dialect.update_returning:
        pytest.skip("UPDATE ... RETURNING (used on SQLite only) is not available on this database")
    checks = _checks(new_id(), new_id())
    async with transaction(app_state.sessions) as session:
        await budget_repo.ensure_row(session, checks[2].key, checks[2].start, checks[2].end)
        updated = await budget_repo.reserve_many(session, [check.key for check in checks], 5, 1)
    assert updated == {checks[2].key}
    assert await _reserved(app_state, [checks[2].key]) == [(5, 1)]
