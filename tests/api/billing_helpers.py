"""Helpers for cost-management tests: usage records and ledger rows read straight from the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from agentcreator.db.models import BudgetLedger, BudgetReservation, UsageRecord
from agentcreator.state import AppState


async def usage_records(state: AppState, **where: Any) -> list[UsageRecord]:
    async with state.sessions() as session:
        stmt = select(UsageRecord).order_by(UsageRecord.created_at, UsageRecord.kind)
        for key, value in where.items():
            stmt = stmt.where(getattr(UsageRecord, key) == value)
        return list((await session.execute(stmt)).scalars())


async def ledger(state: AppState) -> dict[tuple[str, str], BudgetLedger]:
    async with state.sessions() as session:
        rows = (await session.execute(select(BudgetLedger))).scalars()
        return {(row.scope, row.subject_id): row for row in rows}


async def open_reservations(state: AppState) -> list[BudgetReservation]:
    async with state.sessions() as session:
        return list((await session.execute(select(BudgetReservation))).scalars())


def chat_calls(double: Any) -> int:
    return sum(r.path.endswith("/chat/completions") or r.path.endswith("/responses") for r in double.requests)
