"""Ingestion jobs on the real database: a worker that dies mid-job is taken over after its lease and the
job resumes where it stopped; several workers run each job exactly once; a failure keeps its reason and
a retry completes it; with Redis an enqueue wakes an idle worker of another process at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from agentcreator.core.config import KnowledgeSettings
from agentcreator.db.models import KnowledgeChunk, KnowledgeDocument, KnowledgeJob
from agentcreator.db.session import session_scope
from agentcreator.rag.embeddings import Embedder, EmbeddingBatch
from agentcreator.rag.jobs import IngestionFailed
from agentcreator.rag.knowledge import Knowledge
from agentcreator.state import AppState
from tests.conftest import UserSession
from tests.rag.helpers import CORPUS, add_document, make_base, run_jobs

REDIS_URL = "redis://127.0.0.1:6379/15"
LONG_TEXT = [" ".join(f"Paragraph {n} talks about topic number {n} in some detail." for n in range(60))]


class CountingEmbedder(Embedder):
    """The real embedder, counting what it embeds; ``pause_after`` calls, it blocks until cancelled."""

    def __init__(self, inner: Embedder, pause_after: int | None = None) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimensions = inner.dimensions
        self.calls = 0
        self.texts = 0
        self.pause_after = pause_after
        self.paused = asyncio.Event()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    async def embed(self, texts: Sequence[str], *,
                    progress: Callable[[int], None] | None = None) -> EmbeddingBatch:
        if self.pause_after is not None and self.calls >= self.pause_after:
            self.paused.set()
            await asyncio.Event().wait()  # a worker that stopped responding; only cancellation ends it
        self.calls += 1
        self.texts += len(texts)
        return await self.inner.embed(texts)


class BrokenEmbedder(CountingEmbedder):
    async def embed(self, texts: Sequence[str], *,
                    progress: Callable[[int], None] | None = None) -> EmbeddingBatch:
        raise IngestionFailed("The embedding model is unavailable.")


def settings(**overrides: Any) -> KnowledgeSettings:
    values: dict[str, Any] = {"workers": 0, "embed_batch_size": 2, "chunk_tokens": 32, "job_lease_seconds": 1.0,
                              "job_poll_seconds": 0.2}
    return KnowledgeSettings(**(values | overrides))


async def _document(state: AppState, document_id: str) -> KnowledgeDocument:
    async with session_scope(state.sessions) as session:
        return (await session.execute(select(KnowledgeDocument).where(KnowledgeDocument.id == document_id))).scalar_one()


async def _job(state: AppState, document_id: str) -> KnowledgeJob:
    async with session_scope(state.sessions) as session:
        return (await session.execute(select(KnowledgeJob).where(KnowledgeJob.document_id == document_id))).scalar_one()


async def _chunk_ids(state: AppState, document_id: str) -> list[int]:
    async with session_scope(state.sessions) as session:
        return list((await session.execute(select(KnowledgeChunk.id).where(
            KnowledgeChunk.document_id == document_id).order_by(KnowledgeChunk.ordinal))).scalars())


async def test_a_restart_mid_ingestion_resumes_where_it_stopped(alice: UserSession, app_state: AppState) -> None:
    real = app_state.knowledge.embedder
    crashing = Knowledge(app_state.sessions, CountingEmbedder(real, pause_after=2), settings(), app_state.billing)
    base = await make_base(alice)
    document = await add_document(alice, base["id"], "long.txt", LONG_TEXT)
    first = asyncio.create_task(crashing.worker.run_once())
    await asyncio.wait_for(crashing.embedder.paused.wait(), 30)  # type: ignore[attr-defined]
    first.cancel()  # the process dies: no clean-up, the lease stays until it runs out
    with contextlib.suppress(asyncio.CancelledError):
        await first
    stopped = await _document(app_state, document["id"])
    assert stopped.status == "embedding" and stopped.progress_done == 4
    total = stopped.progress_total
    assert total > 6
    chunk_ids = await _chunk_ids(app_state, document["id"])

    restarted = Knowledge(app_state.sessions, CountingEmbedder(real), settings(), app_state.billing)
    assert await restarted.worker.run_once() is False  # the dead worker's lease still holds
    await asyncio.sleep(1.1)
    assert await restarted.worker.run_once() is True
    done = await _document(app_state, document["id"])
    assert (done.status, done.progress_done, done.chunk_count) == ("ready", total, total)
    assert restarted.embedder.texts == total - 4  # type: ignore[attr-defined]
    assert await _chunk_ids(app_state, document["id"]) == chunk_ids  # chunks kept, not made again
    job = await _job(app_state, document["id"])
    assert (job.status, job.attempts, job.worker) == ("done", 2, restarted.worker.id)
    hits = (await restarted.search(alice.id, [base["id"]], "topic number 42")).passages
    assert hits and "42" in hits[0].text


async def test_several_workers_run_each_job_exactly_once(alice: UserSession, app_state: AppState) -> None:
    real = app_state.knowledge.embedder
    workers = [Knowledge(app_state.sessions, CountingEmbedder(real), settings(job_lease_seconds=30), app_state.billing)
               for _ in range(3)]
    base = await make_base(alice)
    documents = [await add_document(alice, base["id"], name, pages) for name, pages in CORPUS.items()]
    documents.append(await add_document(alice, base["id"], "long.txt", LONG_TEXT))

    async def drain(knowledge: Knowledge) -> None:
        while await knowledge.worker.run_once():
            pass

    await asyncio.gather(*(drain(k) for k in workers))
    total = 0
    for document in documents:
        state = await _document(app_state, document["id"])
        job = await _job(app_state, document["id"])
        assert state.status == "ready" and (job.status, job.attempts) == ("done", 1)
        total += state.chunk_count
    assert sum(k.embedder.texts for k in workers) == total  # type: ignore[attr-defined]


async def test_a_failure_keeps_its_reason_and_a_retry_completes(alice: UserSession, app_state: AppState) -> None:
    broken = Knowledge(app_state.sessions, BrokenEmbedder(app_state.knowledge.embedder), settings(), app_state.billing)
    base = await make_base(alice)
    document = await add_document(alice, base["id"], "tides.md", CORPUS["tides.md"])
    assert await broken.worker.run_once() is True
    url = f"/api/knowledge-bases/{base['id']}/documents/{document['id']}"
    failed = (await alice.client.get(url, headers=alice.headers)).json()
    assert failed["status"] == "failed" and failed["error"] == "The embedding model is unavailable."
    assert (await _job(app_state, document["id"])).status == "failed"
    assert await broken.worker.run_once() is False  # a failed job is not picked up again by itself

    retried = await alice.client.post(f"{url}/retry", headers=alice.headers)
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    again = await alice.client.post(f"{url}/retry", headers=alice.headers)
    assert again.status_code == 409
    await run_jobs(app_state.knowledge)
    ready = (await alice.client.get(url, headers=alice.headers)).json()
    assert ready["status"] == "ready" and ready["error"] is None


async def test_with_redis_an_enqueue_wakes_a_worker_of_another_process(
        alice: UserSession, app_state: AppState) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except Exception as exc:  # noqa: BLE001 - turned into a skip
        await redis.aclose()
        pytest.skip(f"redis unreachable: {exc}")
    await redis.delete("agentcreator:knowledge:wake")
    idle = Knowledge(app_state.sessions, CountingEmbedder(app_state.knowledge.embedder),
                     settings(workers=1, job_poll_seconds=120, job_lease_seconds=30), app_state.billing, redis)
    enqueuer = Knowledge(app_state.sessions, app_state.knowledge.embedder, settings(), app_state.billing, redis)
    idle.start()
    try:
        await asyncio.sleep(0.3)  # the worker found nothing and waits (120 s poll)
        base = await make_base(alice)
        document = await enqueuer.ingest_document(base["id"], "bread.md", CORPUS["bread.md"], owner_id=alice.id)
        for _ in range(900):  # up to 45 s under load; without the wake-up the worker sleeps 120 s
            if (await _document(app_state, document.id)).status == "ready":
                break
            await asyncio.sleep(0.05)
        assert (await _document(app_state, document.id)).status == "ready"
        assert idle.embedder.texts >= 1  # type: ignore[attr-defined]
    finally:
        await idle.close()
        await redis.aclose()


async def test_stopping_a_worker_mid_job_stops_its_work_and_keeps_the_lease(
        alice: UserSession, app_state: AppState) -> None:
    gated = CountingEmbedder(app_state.knowledge.embedder, pause_after=1)
    knowledge = Knowledge(app_state.sessions, gated, settings(workers=1, job_lease_seconds=30), app_state.billing)
    base = await make_base(alice)
    document = await add_document(alice, base["id"], "long.txt", LONG_TEXT)
    knowledge.start()
    await asyncio.wait_for(gated.paused.wait(), 30)
    await knowledge.close()
    calls = gated.calls
    await asyncio.sleep(0.2)
    assert gated.calls == calls  # nothing runs on after the stop
    leftovers = [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__qualname__", "").endswith("._process")]
    assert leftovers == []
    job = await _job(app_state, document["id"])
    assert (job.status, job.worker) == ("running", knowledge.worker.id)  # resumable by the next worker
    assert (await _document(app_state, document["id"])).status == "embedding"
