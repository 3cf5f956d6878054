"""Knowledge bases and their documents, owner-scoped. Another user's base or document is "not found"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import (
    KnowledgeBase,
    KnowledgeChunk,
    KnowledgeDocument,
    KnowledgeJob,
    KnowledgePage,
)
from agentcreator.repositories.assistants import plausible_id


async def get_base(session: AsyncSession, owner_id: str, base_id: str) -> KnowledgeBase | None:
    if not plausible_id(base_id):
        return None
    return (await session.execute(select(KnowledgeBase).where(
        KnowledgeBase.id == base_id, KnowledgeBase.owner_id == owner_id))).scalar_one_or_none()


async def get_base_any_owner(session: AsyncSession, base_id: str) -> KnowledgeBase | None:
    """For internal callers that already checked ownership (the files integration)."""
    if not plausible_id(base_id):
        return None
    return await session.get(KnowledgeBase, base_id)


async def owned_bases(session: AsyncSession, owner_id: str, base_ids: Sequence[str]) -> list[KnowledgeBase]:
    """The bases among ``base_ids`` that belong to ``owner_id`` (others are silently absent)."""
    wanted = [i for i in dict.fromkeys(base_ids) if plausible_id(i)]
    if not wanted:
        return []
    rows = await session.execute(select(KnowledgeBase).where(
        KnowledgeBase.owner_id == owner_id, KnowledgeBase.id.in_(wanted)))
    return list(rows.scalars())


async def owned_base_ids(session: AsyncSession, owner_id: str, base_ids: Sequence[str]) -> set[str]:
    return {b.id for b in await owned_bases(session, owner_id, base_ids)}


async def list_bases(session: AsyncSession, owner_id: str, *, limit: int = 50,
                     offset: int = 0) -> tuple[list[KnowledgeBase], int]:
    stmt = select(KnowledgeBase).where(KnowledgeBase.owner_id == owner_id)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(stmt.order_by(KnowledgeBase.updated_at.desc(), KnowledgeBase.id.desc())
                                 .limit(limit).offset(offset))
    return list(rows.scalars()), int(total)


async def document_stats(session: AsyncSession, base_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(documents, chunks) per base."""
    if not base_ids:
        return {}
    rows = await session.execute(
        select(KnowledgeDocument.base_id, func.count(),
               func.coalesce(func.sum(KnowledgeDocument.chunk_count), 0))
        .where(KnowledgeDocument.base_id.in_(list(base_ids))).group_by(KnowledgeDocument.base_id))
    return {base_id: (int(n), int(chunks)) for base_id, n, chunks in rows}


async def add_base(session: AsyncSession, base: KnowledgeBase) -> KnowledgeBase:
    session.add(base)
    await session.flush()
    return base


async def delete_base(session: AsyncSession, owner_id: str, base_id: str) -> bool:
    """The base with its documents and chunks (chunks first, explicitly: see :func:`delete_document`)."""
    owned = select(KnowledgeBase.id).where(KnowledgeBase.id == base_id, KnowledgeBase.owner_id == owner_id)
    if (await session.execute(owned)).scalar_one_or_none() is None:
        return False
    await session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.base_id == base_id))
    result = await session.execute(delete(KnowledgeBase).where(
        KnowledgeBase.id == base_id, KnowledgeBase.owner_id == owner_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def bump_revision(session: AsyncSession, base_id: str) -> None:
    """The base's searchable chunks changed: every worker's cached matrix of it is stale."""
    await session.execute(update(KnowledgeBase).where(KnowledgeBase.id == base_id).values(
        revision=KnowledgeBase.revision + 1))


async def get_document(session: AsyncSession, owner_id: str, base_id: str,
                       document_id: str) -> KnowledgeDocument | None:
    if not plausible_id(document_id) or not plausible_id(base_id):
        return None
    return (await session.execute(select(KnowledgeDocument).where(
        KnowledgeDocument.id == document_id, KnowledgeDocument.base_id == base_id,
        KnowledgeDocument.owner_id == owner_id))).scalar_one_or_none()


async def list_documents(session: AsyncSession, owner_id: str, base_id: str, *, limit: int = 100,
                         offset: int = 0) -> tuple[list[KnowledgeDocument], int]:
    stmt = select(KnowledgeDocument).where(
        KnowledgeDocument.base_id == base_id, KnowledgeDocument.owner_id == owner_id)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(stmt.order_by(KnowledgeDocument.created_at.desc(), KnowledgeDocument.id.desc())
                                 .limit(limit).offset(offset))
    return list(rows.scalars()), int(total)


async def add_document(session: AsyncSession, document: KnowledgeDocument, pages: Sequence[str]) -> None:
    """The document, its pages and its queued job, in the caller's transaction."""
    session.add(document)
    await session.flush()
    session.add_all([KnowledgePage(document_id=document.id, number=n, text=text)
                     for n, text in enumerate(pages, start=1)])
    session.add(KnowledgeJob(document_id=document.id, status="queued", attempts=0))
    await session.flush()


async def delete_document(session: AsyncSession, document: KnowledgeDocument) -> None:
    """The document with its pages, chunks and job (explicitly, not only by cascade: SQLite's FTS
    triggers see every removed chunk either way)."""
    await session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.document_id == document.id))
    await session.execute(delete(KnowledgeDocument).where(KnowledgeDocument.id == document.id))
    if document.status == "ready":
        await bump_revision(session, document.base_id)


async def count_chunks(session: AsyncSession, document_id: str) -> int:
    return int((await session.execute(select(func.count()).select_from(KnowledgeChunk).where(
        KnowledgeChunk.document_id == document_id))).scalar_one())


async def load_pages(session: AsyncSession, document_id: str) -> list[str]:
    rows = await session.execute(select(KnowledgePage.text).where(KnowledgePage.document_id == document_id)
                                 .order_by(KnowledgePage.number))
    return list(rows.scalars())


async def add_chunks(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(KnowledgeChunk.__table__.insert(), rows)


async def chunks_without_vectors(session: AsyncSession, document_id: str, limit: int) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(KnowledgeChunk.id, KnowledgeChunk.text)
        .where(KnowledgeChunk.document_id == document_id, KnowledgeChunk.vector.is_(None))
        .order_by(KnowledgeChunk.ordinal).limit(limit))
    return [(int(i), t) for i, t in rows]


async def count_embedded(session: AsyncSession, document_id: str) -> int:
    return int((await session.execute(select(func.count()).select_from(KnowledgeChunk).where(
        KnowledgeChunk.document_id == document_id, KnowledgeChunk.vector.is_not(None)))).scalar_one())


async def set_vectors(session: AsyncSession, vectors: dict[int, bytes]) -> None:
    for chunk_id, blob in vectors.items():
        await session.execute(update(KnowledgeChunk).where(KnowledgeChunk.id == chunk_id).values(vector=blob))


async def base_vectors(session: AsyncSession, base_id: str) -> list[tuple[int, bytes]]:
    """(chunk id, vector) of the base's ready documents, by id."""
    rows = await session.execute(
        select(KnowledgeChunk.id, KnowledgeChunk.vector)
        .join(KnowledgeDocument, KnowledgeDocument.id == KnowledgeChunk.document_id)
        .where(KnowledgeChunk.base_id == base_id, KnowledgeDocument.status == "ready",
               KnowledgeChunk.vector.is_not(None))
        .order_by(KnowledgeChunk.id))
    return [(int(i), bytes(v)) for i, v in rows]


async def chunks_by_id(session: AsyncSession, chunk_ids: Sequence[int]) -> dict[int, tuple[KnowledgeChunk, str, str | None]]:
    """chunk id -> (chunk, document name, document file id), for ready documents."""
    if not chunk_ids:
        return {}
    rows = await session.execute(
        select(KnowledgeChunk, KnowledgeDocument.name, KnowledgeDocument.file_id)
        .join(KnowledgeDocument, KnowledgeDocument.id == KnowledgeChunk.document_id)
        .where(KnowledgeChunk.id.in_(list(chunk_ids)), KnowledgeDocument.status == "ready"))
    return {chunk.id: (chunk, name, file_id) for chunk, name, file_id in rows}


async def get_owned_document(session: AsyncSession, owner_id: str, document_id: str) -> KnowledgeDocument | None:
    """The owner's document by id alone (a citation names the document, not its base)."""
    if not plausible_id(document_id):
        return None
    return (await session.execute(select(KnowledgeDocument).where(
        KnowledgeDocument.id == document_id, KnowledgeDocument.owner_id == owner_id))).scalar_one_or_none()


async def get_page(session: AsyncSession, document_id: str, number: int) -> KnowledgePage | None:
    return (await session.execute(select(KnowledgePage).where(
        KnowledgePage.document_id == document_id, KnowledgePage.number == number))).scalar_one_or_none()


async def document_of_file(session: AsyncSession, owner_id: str, base_id: str,
                           file_id: str) -> KnowledgeDocument | None:
    """The base's document made from ``file_id``, if any."""
    return (await session.execute(select(KnowledgeDocument).where(
        KnowledgeDocument.base_id == base_id, KnowledgeDocument.owner_id == owner_id,
        KnowledgeDocument.file_id == file_id).limit(1))).scalar_one_or_none()
