"""The knowledge runtime of one process: the embedder, the dense cache, the retriever and the
ingestion worker, built in the app's lifespan (:meth:`Knowledge.build`), started and closed with it.

:meth:`Knowledge.ingest_document` is the one entry point for new documents: the upload routes call it
today with text, the files package will call it with the pages it extracted (and the file's id).
:meth:`Knowledge.reembed` switches a base to the running embedder's model and queues its re-embedding.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing.meter import Billing
from agentcreator.core.config import KnowledgeSettings, Settings
from agentcreator.core.errors import NotFound, ValidationFailed
from agentcreator.db.models import KnowledgeDocument
from agentcreator.db.session import session_scope, transaction
from agentcreator.rag.dense import DenseIndexCache
from agentcreator.rag.embeddings import MINILM_MODEL_ID, Embedder, MiniLMEmbedder
from agentcreator.rag.jobs import IngestWorker
from agentcreator.rag.metering import EmbeddingFor, MeteredEmbedder
from agentcreator.rag.retrieve import Retriever, SearchResult
from agentcreator.repositories import knowledge as repo
from agentcreator.repositories import knowledge_embedding as embedding_repo
from agentcreator.repositories import knowledge_jobs as jobs

MAX_NAME_CHARS = 300


class Knowledge:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], embedder: Embedder,
                 settings: KnowledgeSettings, billing: Billing, redis: Redis | None = None) -> None:
        self.sessions = sessions
        self.embedder = embedder
        self.metered = MeteredEmbedder(embedder, billing)
        self.settings = settings
        self.dense = DenseIndexCache(sessions, embedder.dimensions, settings.dense_cache_max_vectors)
        self.retriever = Retriever(sessions, self.metered, self.dense, candidates=settings.candidates)
        self.worker = IngestWorker(sessions, self.metered, settings, redis, on_ready=self.dense.invalidate)

    @classmethod
    def build(cls, sessions: async_sessionmaker[AsyncSession], settings: Settings, billing: Billing,
              redis: Redis | None = None) -> Knowledge:
        return cls(sessions, build_embedder(settings), settings.knowledge, billing, redis)

    def start(self) -> None:
        self.worker.start()

    async def close(self) -> None:
        await self.worker.stop()
        await self.embedder.aclose()

    def embedding_status(self, model: str, reembedding: bool, error: str | None) -> str:
        """current | stale (another model's vectors) | reembedding | reembed_failed."""
        if model != self.embedder.model_id:
            return "stale"
        if reembedding:
            return "reembed_failed" if error else "reembedding"
        return "current"

    async def reembed(self, base_id: str, *, owner_id: str | None = None) -> int:
        """Switch the base to this process's embedding model: its vectors are cleared and every document's
        job queued again (they stay searchable by keywords meanwhile). Returns the jobs queued."""
        async with transaction(self.sessions) as session:
            base = await repo.get_base_any_owner(session, base_id) if owner_id is None \
                else await repo.get_base(session, owner_id, base_id)
            if base is None:
                raise NotFound("Knowledge base")
            queued = await embedding_repo.start_reembed(session, base.id, self.embedder.model_id,
                                                        self.embedder.dimensions)
        self.dense.invalidate(base_id)
        if queued:
            await self.worker.wake()
        return queued

    async def reembed_stale(self) -> tuple[int, int]:
        """Re-embed every user's base built with another model than this process's (an administrator,
        after changing ``KNOWLEDGE__EMBEDDING_MODEL``). Returns (bases, jobs queued); each base's usage is
        its owner's."""
        async with session_scope(self.sessions) as session:
            stale = await embedding_repo.stale_base_ids(session, self.embedder.model_id)
        jobs_queued = 0
        for base_id in stale:
            try:
                jobs_queued += await self.reembed(base_id)
            except NotFound:  # deleted meanwhile
                continue
        return len(stale), jobs_queued

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
            await embedding_repo.adopt_model(session, base.id, self.embedder.model_id, self.embedder.dimensions)
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
                     threshold: float | None = None, who: EmbeddingFor | None = None) -> SearchResult:
        return await self.retriever.search(user_id, base_ids, query, top_k=top_k, threshold=threshold, who=who)

    async def retrieve_for_turn(self, user_id: str, base_ids: Sequence[str], query: str, top_k: int,
                                token_budget: int, *, threshold: float | None = None,
                                who: EmbeddingFor | None = None) -> SearchResult:
        return await self.retriever.retrieve_for_turn(user_id, base_ids, query, top_k, token_budget,
                                                      threshold=threshold, who=who)


def build_embedder(settings: Settings) -> Embedder:
    """The embedder ``KNOWLEDGE__EMBEDDING_MODEL`` names: the embedded MiniLM model (the default), or
    ``openai/<model>`` through OpenAI's API (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``: any compatible server)."""
    knowledge = settings.knowledge
    if knowledge.embedding_model == MINILM_MODEL_ID:
        return MiniLMEmbedder(batch_size=knowledge.embed_batch_size, threads=knowledge.embed_threads)
    from agentcreator.rag.embeddings_openai import OpenAIEmbedder

    provider, _, model = knowledge.embedding_model.partition("/")
    return OpenAIEmbedder(model, provider=provider, api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                          dimensions=knowledge.embedding_dimensions, batch_size=knowledge.embed_batch_size)
