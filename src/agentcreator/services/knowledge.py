"""Knowledge base use cases for one owner: bases CRUD, documents (add, list, delete, retry), search,
re-embedding with the running embedding model.

Reads and small writes use the request's session (the service commits). Ingestion and search go
through the process's :class:`~agentcreator.rag.knowledge.Knowledge`, which opens its own short
sessions and never holds one while chunking or embedding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.core.errors import Conflict, NotFound, ValidationFailed
from agentcreator.db.models import KnowledgeBase, KnowledgeDocument
from agentcreator.rag.knowledge import Knowledge
from agentcreator.rag.retrieve import SearchResult
from agentcreator.repositories import knowledge as repo
from agentcreator.repositories import knowledge_embedding as embedding_repo

UPDATABLE = ("name", "description")


def split_pages(text: str) -> list[str]:
    """A form feed (``\\f``, as pdftotext writes) separates pages; otherwise the text is one page."""
    return text.split("\f") if "\f" in text else [text]


def decode_text(data: bytes) -> str:
    """UTF-8 text (a BOM is dropped); binary content is refused."""
    if b"\x00" in data:
        raise ValidationFailed("The file is not text (it contains NUL bytes).", code="not_text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"The file is not UTF-8 text (invalid byte at offset {exc.start}).",
                               code="not_text") from exc


class KnowledgeService:
    def __init__(self, session: AsyncSession, owner_id: str, knowledge: Knowledge) -> None:
        self.session = session
        self.owner_id = owner_id
        self.knowledge = knowledge

    async def get_base(self, base_id: str) -> KnowledgeBase:
        base = await repo.get_base(self.session, self.owner_id, base_id)
        if base is None:
            raise NotFound("Knowledge base")
        return base

    async def list_bases(self, *, limit: int, offset: int) -> tuple[list[KnowledgeBase], int]:
        return await repo.list_bases(self.session, self.owner_id, limit=limit, offset=offset)

    async def stats(self, bases: Sequence[KnowledgeBase]) -> dict[str, tuple[int, int]]:
        return await repo.document_stats(self.session, [b.id for b in bases])

    async def embedding_progress(self, bases: Sequence[KnowledgeBase]) -> dict[str, tuple[int, int]]:
        """(chunks with a vector, chunks) of the ready documents of the bases being re-embedded."""
        return await embedding_repo.progress(self.session, [b.id for b in bases if b.reembedding])

    async def create_base(self, fields: dict[str, Any]) -> KnowledgeBase:
        embedder = self.knowledge.embedder
        base = await repo.add_base(self.session, KnowledgeBase(
            owner_id=self.owner_id, embedding_model=embedder.model_id, embedding_dimensions=embedder.dimensions,
            revision=0, **fields))
        await self.session.commit()
        return base

    async def update_base(self, base: KnowledgeBase, changes: dict[str, Any]) -> KnowledgeBase:
        for key, value in changes.items():
            if key in UPDATABLE and value is not None:
                setattr(base, key, value)
        await self.session.commit()
        return base

    async def delete_base(self, base: KnowledgeBase) -> None:
        await repo.delete_base(self.session, self.owner_id, base.id)
        await self.session.commit()
        self.knowledge.dense.invalidate(base.id)

    async def get_document(self, base_id: str, document_id: str) -> KnowledgeDocument:
        document = await repo.get_document(self.session, self.owner_id, base_id, document_id)
        if document is None:
            raise NotFound("Document")
        return document

    async def list_documents(self, base: KnowledgeBase, *, limit: int,
                             offset: int) -> tuple[list[KnowledgeDocument], int]:
        return await repo.list_documents(self.session, self.owner_id, base.id, limit=limit, offset=offset)

    async def add_document(self, base: KnowledgeBase, name: str, pages: Sequence[str]) -> KnowledgeDocument:
        base_id = base.id
        await self.session.rollback()  # end the request's read before ingestion's own transaction
        return await self.knowledge.ingest_document(base_id, name, pages, owner_id=self.owner_id)

    async def delete_document(self, document: KnowledgeDocument) -> None:
        await repo.delete_document(self.session, document)
        await embedding_repo.finish_reembed_if_done(self.session, document.base_id)  # it may have been the last
        await self.session.commit()
        self.knowledge.dense.invalidate(document.base_id)

    async def retry(self, document: KnowledgeDocument) -> KnowledgeDocument:
        if document.status != "failed":
            raise Conflict("Only a failed document can be retried.", code="not_failed")
        base_id, document_id = document.base_id, document.id
        await self.session.rollback()
        await self.knowledge.retry(document_id)
        return await self.get_document(base_id, document_id)

    async def reembed(self, base: KnowledgeBase) -> KnowledgeBase:
        """Re-embed the base with the running embedding model (also to repair a failed re-embed)."""
        if base.embedding_model == self.knowledge.embedder.model_id and base.reembedding \
                and base.embedding_error is None:
            raise Conflict("This knowledge base is being re-embedded already.", code="reembedding")
        base_id = base.id
        await self.session.rollback()
        await self.knowledge.reembed(base_id, owner_id=self.owner_id)
        return await self.get_base(base_id)

    async def search(self, base: KnowledgeBase, query: str, *, top_k: int,
                     threshold: float | None) -> SearchResult:
        base_id = base.id
        await self.session.rollback()  # no transaction held while the query is embedded
        return await self.knowledge.search(self.owner_id, [base_id], query, top_k=top_k, threshold=threshold)
