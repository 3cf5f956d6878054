"""Runs and their steps. A run's row is written with its first saved step (or with the answer, for a
run of one model call), then updated as it goes; queries are scoped by owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Run, RunStep
from agentcreator.db.types import new_id, utcnow


async def insert_run(session: AsyncSession, *, run_id: str, owner_id: str, conversation_id: str, message_id: str,
                     assistant_id: str | None, model: str, status: str, rounds: int, cost_micros: int,
                     ended_by: str | None = None, error: dict[str, Any] | None = None,
                     finished: bool = False) -> None:
    now = utcnow()
    session.add(Run(id=run_id, owner_id=owner_id, conversation_id=conversation_id, message_id=message_id,
                    assistant_id=assistant_id, model=model, status=status, rounds=rounds, cost_micros=cost_micros,
                    ended_by=ended_by, error=error, created_at=now, updated_at=now,
                    finished_at=now if finished else None))
    await session.flush()


async def update_run(session: AsyncSession, run_id: str, *, status: str, rounds: int, cost_micros: int,
                     ended_by: str | None = None, error: dict[str, Any] | None = None,
                     finished: bool = False) -> None:
    now = utcnow()
    values: dict[str, Any] = {"status": status, "rounds": rounds, "cost_micros": cost_micros,
                              "ended_by": ended_by, "error": error, "updated_at": now}
    if finished:
        values["finished_at"] = now
    await session.execute(update(Run).where(Run.id == run_id).values(**values))


async def add_step(session: AsyncSession, *, run_id: str, index: int, kind: str, status: str,
                   details: dict[str, Any], cost_micros: int, started_at: datetime,
                   finished_at: datetime) -> str:
    step_id = new_id()
    session.add(RunStep(id=step_id, run_id=run_id, step_index=index, kind=kind, status=status, details=details,
                        cost_micros=cost_micros, started_at=started_at, finished_at=finished_at))
    await session.flush()
    return step_id


async def owned_run(session: AsyncSession, owner_id: str, run_id: str) -> Run | None:
    return (await session.execute(select(Run).where(Run.id == run_id, Run.owner_id == owner_id))).scalar_one_or_none()


async def runs_for_message(session: AsyncSession, owner_id: str, message_id: str) -> list[Run]:
    rows = await session.execute(select(Run).where(Run.message_id == message_id, Run.owner_id == owner_id)
                                 .order_by(Run.created_at))
    return list(rows.scalars())


async def steps_of(session: AsyncSession, run_id: str) -> list[RunStep]:
    rows = await session.execute(select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.step_index))
    return list(rows.scalars())


async def mark_in_progress_interrupted(session: AsyncSession) -> int:
    """Runs left in progress by a crash become ``incomplete`` (ended by ``interrupted``), at start-up."""
    result = await session.execute(
        update(Run).where(Run.status.in_(("in_progress", "requires_action")))
        .values(status="incomplete", ended_by="interrupted", updated_at=utcnow(), finished_at=utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
