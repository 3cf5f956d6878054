"""The ingestion worker: runs queued jobs from the ``knowledge_jobs`` table, in-process.

A document goes queued → parsing (its pages are chunked, the chunks stored in one transaction) →
embedding n/N (batch by batch, each batch's vectors and the progress committed together) → ready, or
failed with a reason. A job survives restarts: its state is the database's, and a job whose worker
died is claimed again when its lease runs out, then resumes where it stopped (the chunks already
stored are kept, the vectors already stored are not computed again).

With Redis, enqueueing pushes a wake-up that one idle worker pops at once (``BLPOP``); without it, a
local event wakes this process's workers. Either way idle workers also look every ``job_poll_seconds``.
No DB session is open while chunking or embedding.

Every embedding call is metered (``rag/metering.py``): each batch's usage record is written with its
vectors, attributed to the document's owner. A job whose document is already ``ready`` is a re-embed
(``repositories/knowledge_embedding.py``): the document stays searchable (lexically) while its chunks
get vectors of the base's new model, and a failure is the base's ``embedding_error``, not the
document's. A worker only writes vectors of its own model into a base recorded with that model; a
base without any vector takes the worker's model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.core.config import KnowledgeSettings
from agentcreator.core.errors import AppError
from agentcreator.db.models import KnowledgeDocument
from agentcreator.db.session import session_scope, transaction
from agentcreator.rag.chunking import chunk_pages
from agentcreator.rag.embeddings import EmbeddingBatch, to_blob
from agentcreator.rag.metering import EmbeddingFor, MeteredEmbedder
from agentcreator.repositories import knowledge as repo
from agentcreator.repositories import knowledge_embedding as embedding_repo
from agentcreator.repositories import knowledge_jobs as jobs

log = logging.getLogger(__name__)
WAKE_KEY = "agentcreator:knowledge:wake"


class IngestionFailed(AppError):
    """A document cannot be indexed (no text, ...): the job fails with this reason."""

    status_code = 422
    code = "ingestion_failed"


class LeaseLost(Exception):
    """Another worker owns the job now (or it was deleted or retried): stop without writing."""


class IngestWorker:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], embedder: MeteredEmbedder,
                 settings: KnowledgeSettings, redis: Redis | None = None,
                 on_ready: Callable[[str], None] | None = None, name: str | None = None) -> None:
        self._sessions = sessions
        self._embedder = embedder
        self._settings = settings
        self._redis = redis
        self._on_ready = on_ready
        self.id = name or f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, count: int | None = None) -> None:
        for n in range(self._settings.workers if count is None else count):
            self._tasks.append(asyncio.create_task(self._loop(), name=f"knowledge-worker-{n}"))

    async def stop(self) -> None:
        """Stop at once: a job in progress keeps its lease and is resumed after it runs out."""
        for task in self._tasks:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for result in results:
            if isinstance(result, Exception):
                log.warning("knowledge worker %s stopped with %r", self.id, result)

    async def wake(self) -> None:
        """A job was queued: wake a worker here, and with Redis one in any process."""
        self._wake.set()
        if self._redis is not None:
            await self._redis.lpush(WAKE_KEY, "1")
            await self._redis.ltrim(WAKE_KEY, 0, 63)

    async def _loop(self) -> None:
        while True:
            try:
                ran = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: log, wait, try again; the job's lease protects it
                log.exception("knowledge worker %s failed to run a job", self.id)
                ran = False
            if not ran:
                await self._idle()

    async def _idle(self) -> None:
        timeout = self._settings.job_poll_seconds
        if self._redis is not None:
            try:
                async with asyncio.timeout(timeout + 1):
                    await self._redis.blpop([WAKE_KEY], timeout=max(timeout, 0.01))
            except (TimeoutError, RedisError) as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # redis-py turns a cancelled read into a timeout
                    raise asyncio.CancelledError from exc
                if isinstance(exc, RedisError) and not isinstance(exc, RedisTimeoutError):
                    log.warning("knowledge worker %s: no Redis wake-ups (%s); polling", self.id, exc)
                    await asyncio.sleep(timeout)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        self._wake.clear()

    # -- one job ---------------------------------------------------------------------------------
    async def run_once(self) -> bool:
        """Claim one job and run it; False when there was none to claim."""
        async with session_scope(self._sessions) as session:
            ids = await jobs.candidates(session)
        for job_id in ids:
            async with transaction(self._sessions) as session:
                job = await jobs.claim(session, job_id, self.id, self._settings.job_lease_seconds)
                if job is None:
                    continue
                document_id, attempts = job.document_id, job.attempts
                if attempts > self._settings.job_max_attempts:
                    reason = f"Ingestion was interrupted {attempts - 1} times; retry the document."
                    await _fail(session, job_id, self.id, document_id, reason)
                    return True
            await self._run(job_id, document_id)
            return True
        return False

    async def _run(self, job_id: str, document_id: str) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(job_id))
        try:
            await self._guarded(heartbeat, self._process(document_id))
        except LeaseLost:
            log.info("knowledge job %s is no longer %s's", job_id, self.id)
            return
        except Exception as exc:
            reason = exc.message if isinstance(exc, AppError) else f"Internal error ({type(exc).__name__})"
            if not isinstance(exc, AppError):
                log.exception("knowledge job %s failed", job_id)
            async with transaction(self._sessions) as session:
                await _fail(session, job_id, self.id, document_id, reason)
            return
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, LeaseLost):
                await heartbeat
        async with transaction(self._sessions) as session:
            await jobs.finish(session, job_id, self.id)

    async def _guarded(self, heartbeat: asyncio.Task[None], work: Awaitable[None]) -> None:
        """Run ``work`` unless the heartbeat finds the lease lost first."""
        task = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait({task, heartbeat}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # the worker is stopping: the work stops with it (its lease stays)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise
        if task not in done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, LeaseLost):
                await task
            heartbeat.result()  # raises LeaseLost
            raise LeaseLost
        task.result()

    async def _heartbeat(self, job_id: str) -> None:
        interval = self._settings.job_lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            async with transaction(self._sessions) as session:
                if not await jobs.renew(session, job_id, self.id, self._settings.job_lease_seconds):
                    raise LeaseLost

    async def _process(self, document_id: str) -> None:
        async with transaction(self._sessions) as session:
            document = await session.get(KnowledgeDocument, document_id)
            if document is None:
                return
            base_id, who = document.base_id, EmbeddingFor(user_id=document.owner_id)
            if document.status == "ready":  # a re-embed: the document stays searchable meanwhile
                stored, pages = -1, []
            else:
                stored = await repo.count_chunks(session, document_id)
                pages = await repo.load_pages(session, document_id) if stored == 0 else []
                await jobs.set_document(session, document_id, status="parsing" if stored == 0 else "embedding",
                                        error=None)
        if stored < 0:
            await self._embed(document_id, base_id, who, reembed=True)
            async with transaction(self._sessions) as session:
                finished = await embedding_repo.finish_reembed_if_done(session, base_id)
            if finished and self._on_ready is not None:
                self._on_ready(base_id)
            return
        if stored == 0:
            chunks = await asyncio.to_thread(
                chunk_pages, pages, self._embedder.embedder.count_tokens,
                chunk_tokens=self._settings.chunk_tokens, overlap=self._settings.chunk_overlap)
            if not chunks:
                raise IngestionFailed("The document has no text to index.")
            rows = [{"document_id": document_id, "base_id": base_id, "ordinal": c.ordinal,
                     "text": c.text, "page": c.page, "char_start": c.char_start, "char_end": c.char_end,
                     "vector": None} for c in chunks]
            async with transaction(self._sessions) as session:
                await repo.add_chunks(session, rows)
                await jobs.set_document(session, document_id, status="embedding", chunk_count=len(rows),
                                        progress_total=len(rows), progress_done=0)
            stored = len(rows)
        await self._embed(document_id, base_id, who, reembed=False)
        async with transaction(self._sessions) as session:
            await jobs.set_document(session, document_id, status="ready", progress_done=stored,
                                    progress_total=stored, chunk_count=stored, error=None)
            await repo.bump_revision(session, base_id)
            await embedding_repo.finish_reembed_if_done(session, base_id)
        if self._on_ready is not None:
            self._on_ready(base_id)

    async def _model_matches(self, base_id: str, reembed: bool) -> bool:
        """Whether this worker may write vectors into the base (its model is the base's, or the base
        has no vector yet and takes it). A re-embed for another model fails: another process embeds
        with the model the base was switched to."""
        model, dimensions = self._embedder.embedder.model_id, self._embedder.embedder.dimensions
        async with transaction(self._sessions) as session:
            recorded = await embedding_repo.base_model(session, base_id)
            if recorded is None or recorded == model:
                return recorded is not None
            if await embedding_repo.adopt_model(session, base_id, model, dimensions):
                return True
        if reembed:
            raise IngestionFailed(f"This base is to be embedded with {recorded}, but this server embeds "
                                  f"with {model}.")
        return False  # a stale base: the document is searched lexically until the base is re-embedded

    async def _embed(self, document_id: str, base_id: str, who: EmbeddingFor, *, reembed: bool) -> None:
        if not await self._model_matches(base_id, reembed):
            return
        batch = self._settings.embed_batch_size
        model = self._embedder.embedder.model_id
        while True:
            async with session_scope(self._sessions) as session:
                pending = await repo.chunks_without_vectors(session, document_id, batch)
            if not pending:
                return
            store = _BatchStore(document_id, base_id, model, pending, reembed)
            await self._embedder.embed([text for _, text in pending], who, store=store)
            if store.moved:
                raise LeaseLost  # the base was switched to another model: its re-embed job takes over


@dataclass
class _BatchStore:
    """Writes a batch's vectors (and the document's progress) with its usage record, unless the base was
    switched to another model meanwhile (then nothing is written but the usage: the call was made)."""

    document_id: str
    base_id: str
    model: str
    pending: list[tuple[int, str]]
    reembed: bool
    moved: bool = False

    async def __call__(self, session: AsyncSession, embedded: EmbeddingBatch) -> None:
        if await embedding_repo.base_model(session, self.base_id) != self.model:
            self.moved = True
            return
        await repo.set_vectors(session, {chunk_id: to_blob(v) for (chunk_id, _), v
                                         in zip(self.pending, embedded.vectors, strict=True)})
        values: dict[str, object] = {"embedding_tokens": KnowledgeDocument.embedding_tokens + embedded.tokens}
        if not self.reembed:  # a re-embedded document stays "ready"; the base shows the progress
            values["progress_done"] = await repo.count_embedded(session, self.document_id)
        await jobs.set_document(session, self.document_id, **values)


async def _fail(session: AsyncSession, job_id: str, worker: str, document_id: str, reason: str) -> None:
    """The job failed: the document fails with the reason, unless it was a re-embed of a ready document
    (it stays searchable lexically; the reason is the base's ``embedding_error``)."""
    if not await jobs.finish(session, job_id, worker, error=reason):
        return
    document = await session.get(KnowledgeDocument, document_id)
    if document is not None and document.status == "ready":
        await embedding_repo.set_error(session, document.base_id, reason)
    else:
        await jobs.set_document(session, document_id, status="failed", error=reason)
