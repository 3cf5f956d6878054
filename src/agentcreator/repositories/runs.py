"""Runs and their steps. A run's row is written with its first saved step (or with the answer, for a
run of one model call), then updated as it goes; queries are scoped by owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import ChatWorker, Run, RunStep
from agentcreator.db.types import new_id, utcnow


async def insert_run(session: AsyncSession, *, run_id: str, owner_id: str, conversation_id: str, message_id: str,
                     assistant_id: str | None, model: str, status: str, rounds: int, cost_micros: int,
                     ended_by: str | None = None, error: dict[str, Any] | None = None,
                     finished: bool = False, worker_id: str | None = None, turn_id: str | None = None,
                     prompt_tokens: int = 0) -> None:
    """Written when the turn starts (with the process running it: ``worker_id``), in its start transaction."""
    now = utcnow()
    await session.execute(_INSERT_RUN, {
        "id": run_id, "owner_id": owner_id, "conversation_id": conversation_id, "message_id": message_id,
        "assistant_id": assistant_id, "model": model, "status": status, "rounds": rounds,
        "cost_micros": cost_micros, "ended_by": ended_by, "error": error, "created_at": now, "updated_at": now,
        "finished_at": now if finished else None, "worker_id": worker_id, "turn_id": turn_id,
        "prompt_tokens": prompt_tokens, "open_from": 0})


_INSERT_RUN = Run.__table__.insert()
# Run rows are never loaded in the session that updates them: no need to find and refresh them.
_NO_SYNC = {"synchronize_session": False}


async def update_run(session: AsyncSession, run_id: str, *, status: str, rounds: int, cost_micros: int,
                     ended_by: str | None = None, error: dict[str, Any] | None = None,
                     finished: bool = False, next_round: tuple[int, int] | None = None) -> None:
    """``next_round``: the next model round opens, ``(prompt_tokens, open_from)`` (see :func:`note_round`)."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "rounds": rounds, "cost_micros": cost_micros,
                              "ended_by": ended_by, "error": error, "updated_at": now}
    if finished:
        values["finished_at"] = now
    if next_round is not None:
        values["prompt_tokens"], values["open_from"] = next_round
    await session.execute(update(Run).where(Run.id == run_id).values(**values), execution_options=_NO_SYNC)


async def add_step(session: AsyncSession, *, run_id: str, index: int, kind: str, status: str,
                   details: dict[str, Any], cost_micros: int, started_at: datetime,
                   finished_at: datetime) -> str:
    step_id = new_id()
    await session.execute(_INSERT_STEP, {"id": step_id, "run_id": run_id, "step_index": index, "kind": kind,
                                         "status": status, "details": details, "cost_micros": cost_micros,
                                         "started_at": started_at, "finished_at": finished_at})
    return step_id


_INSERT_STEP = RunStep.__table__.insert()  # a Core insert: steps are never read back in the session


async def owned_run(session: AsyncSession, owner_id: str, run_id: str) -> Run | None:
    return (await session.execute(select(Run).where(Run.id == run_id, Run.owner_id == owner_id))).scalar_one_or_none()


async def runs_for_message(session: AsyncSession, owner_id: str, message_id: str) -> list[Run]:
    rows = await session.execute(select(Run).where(Run.message_id == message_id, Run.owner_id == owner_id)
                                 .order_by(Run.created_at))
    return list(rows.scalars())


async def runs_of_conversation(session: AsyncSession, owner_id: str, conversation_id: str, *, limit: int,
                               offset: int) -> tuple[list[Run], int]:
    """A conversation's runs, newest first, and how many there are."""
    where = (Run.conversation_id == conversation_id, Run.owner_id == owner_id)
    count = int((await session.execute(select(func.count()).select_from(Run).where(*where))).scalar_one())
    rows = await session.execute(select(Run).where(*where).order_by(Run.created_at.desc(), Run.id.desc())
                                 .limit(limit).offset(offset))
    return list(rows.scalars()), count


async def steps_of(session: AsyncSession, run_id: str) -> list[RunStep]:
    rows = await session.execute(select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.step_index))
    return list(rows.scalars())


# --- leases (chat/leases.py) -------------------------------------------------------------------

_workers = ChatWorker.__table__


async def register_worker(session: AsyncSession, worker_id: str, lease_until: datetime) -> None:
    await session.execute(_workers.insert(), {"id": worker_id, "lease_until": lease_until, "started_at": utcnow()})


async def renew_worker(session: AsyncSession, worker_id: str, lease_until: datetime) -> bool:
    """Extend the process's lease; False when its row is gone (it was swept as dead)."""
    result = await session.execute(update(_workers).where(_workers.c.id == worker_id).values(lease_until=lease_until))
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def delete_worker(session: AsyncSession, worker_id: str, *, expired_before: datetime | None = None) -> None:
    """Forget a process (``expired_before``: only if its lease has still not been renewed by then)."""
    query = delete(_workers).where(_workers.c.id == worker_id)
    if expired_before is not None:
        query = query.where(_workers.c.lease_until < expired_before)
    await session.execute(query)


async def expired_workers(session: AsyncSession, now: datetime) -> list[str]:
    rows = await session.execute(select(_workers.c.id).where(_workers.c.lease_until < now))
    return [row[0] for row in rows]


def _live_worker(now: datetime) -> Any:
    return exists().where(_workers.c.id == Run.worker_id, _workers.c.lease_until >= now)


async def orphaned_runs(session: AsyncSession, now: datetime, *, conversation_id: str | None = None,
                        besides: str | None = None) -> list[Run]:
    """Runs in progress whose process has no live lease (expired or gone); never ``besides``'s (the
    caller's own: a process that sweeps is alive)."""
    query = select(Run).where(Run.status == "in_progress", ~_live_worker(now))
    if besides is not None:
        query = query.where((Run.worker_id != besides) | Run.worker_id.is_(None))
    if conversation_id is not None:
        query = query.where(Run.conversation_id == conversation_id)
    return list((await session.execute(query)).scalars())


async def claim_orphan(session: AsyncSession, run_id: str, *, cost_micros: int, error: dict[str, Any]) -> bool:
    """End a dead process's run as interrupted; False when another process did it first (the
    conditional UPDATE is the claim: of concurrent sweeps only one gets True)."""
    now = utcnow()
    result = await session.execute(
        update(Run).where(Run.id == run_id, Run.status == "in_progress")
        .values(status="incomplete", ended_by="interrupted", error=error, cost_micros=Run.cost_micros + cost_micros,
                updated_at=now, finished_at=now))
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def note_round(session: AsyncSession, run_id: str, *, prompt_tokens: int, open_from: int) -> None:
    """A later model round opens: its prompt size and where its text starts (for a sweep's estimate)."""
    await session.execute(update(Run).where(Run.id == run_id).values(prompt_tokens=prompt_tokens, open_from=open_from),
                          execution_options=_NO_SYNC)


async def count_steps(session: AsyncSession, run_id: str) -> int:
    return int((await session.execute(select(func.count()).select_from(RunStep)
                                      .where(RunStep.run_id == run_id))).scalar_one())
