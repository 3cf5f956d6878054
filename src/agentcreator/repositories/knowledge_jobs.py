"""Ingestion jobs: claimed by a conditional UPDATE, so that among several workers (threads, processes,
machines) exactly one gets each job. A job is claimable when queued, or running with an expired lease
(its worker died); the claim sets the worker and a new lease in the same statement."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import KnowledgeDocument, KnowledgeJob
from agentcreator.db.types import utcnow


def _claimable(now: object) -> object:
    return or_(KnowledgeJob.status == "queued",
               and_(KnowledgeJob.status == "running", KnowledgeJob.lease_until < now))


async def candidates(session: AsyncSession, limit: int = 8) -> list[str]:
    now = utcnow()
    rows = await session.execute(select(KnowledgeJob.id).where(_claimable(now))
                                 .order_by(KnowledgeJob.created_at, KnowledgeJob.id).limit(limit))
    return list(rows.scalars())


async def claim(session: AsyncSession, job_id: str, worker: str, lease_seconds: float) -> KnowledgeJob | None:
    """Take ``job_id`` for ``worker`` if it is still claimable; None when another worker got it first."""
    now = utcnow()
    result = await session.execute(
        update(KnowledgeJob).where(KnowledgeJob.id == job_id, _claimable(now))
        .values(status="running", worker=worker, lease_until=now + timedelta(seconds=lease_seconds),
                attempts=KnowledgeJob.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return (await session.execute(select(KnowledgeJob).where(KnowledgeJob.id == job_id)
                                  .execution_options(populate_existing=True))).scalar_one()


async def renew(session: AsyncSession, job_id: str, worker: str, lease_seconds: float) -> bool:
    """Extend the lease; False when the job is no longer this worker's (deleted, retried, taken over)."""
    now = utcnow()
    result = await session.execute(
        update(KnowledgeJob).where(KnowledgeJob.id == job_id, KnowledgeJob.worker == worker,
                                   KnowledgeJob.status == "running")
        .values(lease_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish(session: AsyncSession, job_id: str, worker: str, *, error: str | None = None) -> bool:
    result = await session.execute(
        update(KnowledgeJob).where(KnowledgeJob.id == job_id, KnowledgeJob.worker == worker)
        .values(status="failed" if error else "done", error=error, lease_until=None, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def requeue(session: AsyncSession, document_id: str) -> None:
    """Queue the document's job again (retry): attempts start over."""
    await session.execute(
        update(KnowledgeJob).where(KnowledgeJob.document_id == document_id)
        .values(status="queued", worker=None, lease_until=None, error=None, attempts=0, updated_at=utcnow())
        .execution_options(synchronize_session=False))


async def set_document(session: AsyncSession, document_id: str, **values: object) -> None:
    await session.execute(update(KnowledgeDocument).where(KnowledgeDocument.id == document_id)
                          .values(updated_at=utcnow(), **values).execution_options(synchronize_session=False))
