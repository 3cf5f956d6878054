"""Which model a knowledge base's vectors come from, and re-embedding it with another.

A base records ``embedding_model`` and ``embedding_dimensions``. Re-embedding sets them to the new model,
clears every vector of the base, sets ``reembedding`` and queues each document's job again (the same
resumable ingestion jobs); the job that stores the last missing vector of the base's ready documents
clears the flag. Old and new vectors are never in the base together: the old ones are gone before the
first new one is written, and dense search skips a base while ``reembedding`` is set.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import KnowledgeBase, KnowledgeChunk, KnowledgeDocument, KnowledgeJob
from agentcreator.db.types import utcnow


def _missing_vectors(base_id: str) -> object:
    """A chunk of one of the base's ready documents still has no vector."""
    return exists(select(KnowledgeChunk.id)
                  .join(KnowledgeDocument, KnowledgeDocument.id == KnowledgeChunk.document_id)
                  .where(KnowledgeChunk.base_id == base_id, KnowledgeDocument.status == "ready",
                         KnowledgeChunk.vector.is_(None)))


async def start_reembed(session: AsyncSession, base_id: str, model: str, dimensions: int) -> int:
    """Switch the base to ``model``: vectors cleared, jobs queued. Returns how many jobs were queued.
    A base with nothing to embed is done at once."""
    now = utcnow()
    await session.execute(update(KnowledgeBase).where(KnowledgeBase.id == base_id).values(
        embedding_model=model, embedding_dimensions=dimensions, reembedding=True, embedding_error=None,
        revision=KnowledgeBase.revision + 1, updated_at=now).execution_options(synchronize_session=False))
    await session.execute(update(KnowledgeChunk).where(KnowledgeChunk.base_id == base_id,
                                                       KnowledgeChunk.vector.is_not(None))
                          .values(vector=None).execution_options(synchronize_session=False))
    documents = select(KnowledgeDocument.id).where(KnowledgeDocument.base_id == base_id,
                                                   KnowledgeDocument.status != "failed")
    result = await session.execute(
        update(KnowledgeJob).where(KnowledgeJob.document_id.in_(documents))
        .values(status="queued", worker=None, lease_until=None, error=None, attempts=0, updated_at=now)
        .execution_options(synchronize_session=False))
    await finish_reembed_if_done(session, base_id)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def finish_reembed_if_done(session: AsyncSession, base_id: str) -> bool:
    """Clear ``reembedding`` when every chunk of the base's ready documents has its vector (and bump the
    revision: the base is searched densely again). True when this call cleared it."""
    result = await session.execute(
        update(KnowledgeBase).where(KnowledgeBase.id == base_id, KnowledgeBase.reembedding.is_(True),
                                    ~_missing_vectors(base_id))
        .values(reembedding=False, embedding_error=None, revision=KnowledgeBase.revision + 1)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def adopt_model(session: AsyncSession, base_id: str, model: str, dimensions: int) -> bool:
    """A base without a single vector takes ``model`` (nothing to mix with). True when it did."""
    any_vector = exists(select(KnowledgeChunk.id).where(KnowledgeChunk.base_id == base_id,
                                                        KnowledgeChunk.vector.is_not(None)))
    result = await session.execute(
        update(KnowledgeBase).where(KnowledgeBase.id == base_id, KnowledgeBase.embedding_model != model, ~any_vector)
        .values(embedding_model=model, embedding_dimensions=dimensions)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def base_model(session: AsyncSession, base_id: str) -> str | None:
    """The base's embedding model, read afresh (None: the base is gone)."""
    return (await session.execute(select(KnowledgeBase.embedding_model).where(KnowledgeBase.id == base_id)
                                  .execution_options(populate_existing=True))).scalar_one_or_none()


async def stale_base_ids(session: AsyncSession, model: str) -> list[str]:
    """Every user's bases whose vectors come from another model than ``model`` (admins only)."""
    rows = await session.execute(select(KnowledgeBase.id).where(KnowledgeBase.embedding_model != model)
                                 .order_by(KnowledgeBase.created_at, KnowledgeBase.id))
    return list(rows.scalars())


async def set_error(session: AsyncSession, base_id: str, reason: str) -> None:
    await session.execute(update(KnowledgeBase).where(KnowledgeBase.id == base_id).values(embedding_error=reason)
                          .execution_options(synchronize_session=False))


async def progress(session: AsyncSession, base_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(chunks with a vector, chunks) of each base's ready documents."""
    if not base_ids:
        return {}
    rows = await session.execute(
        select(KnowledgeChunk.base_id, func.count(KnowledgeChunk.vector), func.count())
        .join(KnowledgeDocument, KnowledgeDocument.id == KnowledgeChunk.document_id)
        .where(KnowledgeChunk.base_id.in_(list(base_ids)), KnowledgeDocument.status == "ready")
        .group_by(KnowledgeChunk.base_id))
    return {base_id: (int(done), int(total)) for base_id, done, total in rows}
