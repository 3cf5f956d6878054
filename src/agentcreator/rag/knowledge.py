"""The knowledge runtime of one process: the embedder, the dense cache, the retriever and the
ingestion worker, built in the app's lifespan (:meth:`Knowledge.build`), started and closed with it.

:meth:`Knowledge.ingest_document` is the one entry point for new documents: the upload routes call it
today with text, the files package will call it with the pages it extracted (and the file's id).
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.core.config import KnowledgeSettings
from agentcreator.core.errors import NotFound, ValidationFailed
from agentcreator.db.models import KnowledgeDocument
from agentcreator.db.session import transaction
from agentcreator.rag.dense import DenseIndexCache
from agentcreator.rag.embeddings import Embedder, MiniLMEmbedder
from agentcreator.rag.jobs import IngestWorker
from agentcreator.rag.retrieve import Passage, Retriever
from agentcreator.repositories import knowledge as repo
from agentcreator.repositories import knowledge_jobs as jobs

MAX_NAME_CHARS = 300


class Knowledge:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], embedder: Embedder,
                 settings: KnowledgeSettings, redis: Redis | None = None) -> None:
        self.sessions = sessions
        self.embedder = embedder
        self.settings = settings
        self.dense = DenseIndexCache(sessions, embedder.dimensions, settings.dense_cache_max_vectors)
        self.retriever = Retriever(sessions, embedder, self.dense, candidates=settings.candidates)
        self.worker = IngestWorker(sessions, embedder, settings, redis, on_ready=self.dense.invalidate)

    @classmethod
    def build(cls, sessions: async_sessionmaker[AsyncSession], settings: KnowledgeSettings,
              redis: Redis | None = None) -> Knowledge:
        embedder = MiniLMEmbedder(batch_size=settings.embed_batch_size, threads=settings.embed_threads)
        return cls(sessions, embedder, settings, redis)

    def start(self) -> None:
        self.worker.start()

    async def close(self) -> None:
        await self.worker.stop()

    async def ingest_document(self, base_id: str, name: str, pages: Sequence[str],
                              file_id: str | None = None, *, owner_id: str | None = None) -> KnowledgeDocument:
        """Queue ``pages`` (extracted text, one string a page) as a new document of ``base_id``.

        The base must exist (and belong to ``owner_id`` when given: the routes pass the caller, the
        files integration too). Returns the queued document; the worker takes it from there."""
        name = name.strip()[:MAX_NAME_CHARS] or "Untitled"
        pages = [p.replace("\x00", "") for p in pages]
        if len(pages) > self.settings.max_pages:
            raise ValidationFailed(f"A document may have at most {self.settings.max_pages} pages.",
                                   code="too_many_pages")
        if not any(p.strip() for p in pages):
            raise ValidationFailed("The document has no text to index.", code="empty_document")
        async with transaction(self.sessions) as session:
            base = await repo.get_base_any_owner(session, base_id) if owner_id is None \
                else await repo.get_base(session, owner_id, base_id)
            if base is None:
                raise NotFound("Knowledge base")
            document = KnowledgeDocument(base_id=base.id, owner_id=base.owner_id, name=name, file_id=file_id,
                                         status="queued", progress_done=0, progress_total=0, chunk_count=0,
                                         page_count=len(pages), embedding_tokens=0)
            await repo.add_document(session, document, pages)
        await self.worker.wake()
        return document

    async def retry(self, document_id: str) -> None:
        """Queue a failed document again; its stored chunks and vectors are kept and reused."""
        async with transaction(self.sessions) as session:
            await jobs.requeue(session, document_id)
            await jobs.set_document(session, document_id, status="queued", error=None)
        await self.worker.wake()

    async def search(self, user_id: str, base_ids: Sequence[str], query: str, *, top_k: int = 5,
                     threshold: float | None = None) -> list[Passage]:
        return await self.retriever.search(user_id, base_ids, query, top_k=top_k, threshold=threshold)

    async def retrieve_for_turn(self, user_id: str, base_ids: Sequence[str], query: str, top_k: int,
                                token_budget: int, *, threshold: float | None = None) -> list[Passage]:
        return await self.retriever.retrieve_for_turn(user_id, base_ids, query, top_k, token_budget,
                                                      threshold=threshold)
