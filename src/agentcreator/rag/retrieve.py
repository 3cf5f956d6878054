"""Hybrid retrieval: a lexical ranking (the database's full-text index) and a dense one (cosine over
the cached matrix) merged by distribution-based score fusion (rag/fusion).

Owner scoping happens first: only the caller's bases among the ids asked for are searched; another
user's base id is ignored exactly like one that does not exist. The query is embedded in a worker
thread while one short session reads the bases and runs the lexical ranking (on the database's
thread); that session never waits for the embedding. The dense scan (another worker thread) starts
once the vector and the bases are known, beside the lexical ranking when that is still running.

``threshold`` is a cosine similarity (0..1): a passage less similar to the query is dropped, whatever
its lexical rank. Without one every fused passage counts.

A base is searched densely only with the model its vectors come from, and not while it is being
re-embedded: otherwise it is searched lexically only and the result carries a notice saying why
(``embedding_stale``, ``reembedding``); a threshold cannot judge its passages (no similarity), so they
are kept. The query's embedding is metered (``rag/metering.py``) and attributed to ``who``; when it
cannot be made (the embedding provider fails, or a budget has no room for it) every base is searched
by keywords only, with an ``embedding_unavailable`` notice giving the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.core.errors import PaymentRequired
from agentcreator.db.models import KnowledgeBase
from agentcreator.db.session import session_scope
from agentcreator.llm.errors import ProviderError
from agentcreator.rag.dense import DenseIndexCache
from agentcreator.rag.embeddings import EmbeddingBatch
from agentcreator.rag.fusion import score_fusion
from agentcreator.rag.metering import EmbeddingFor, MeteredEmbedder
from agentcreator.repositories import knowledge as repo
from agentcreator.repositories import knowledge_lexical as lexical

MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    base_id: str
    document_id: str
    file_id: str | None
    name: str
    page: int
    char_start: int
    char_end: int
    text: str
    score: float  # fused (rag/fusion: each ranking normalized, summed)
    bm25_rank: int | None  # 1-based rank in the lexical ranking, None: not in it
    dense_rank: int | None
    lexical_score: float | None
    similarity: float | None  # cosine to the query

    def citation(self) -> dict[str, object]:
        return {"type": "citation", "document_id": self.document_id, "file_id": self.file_id,
                "name": self.name, "page": self.page, "char_start": self.char_start,
                "char_end": self.char_end, "text": self.text}

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class SearchNotice:
    """Why a base was searched lexically only."""

    base_id: str | None  # None: the whole search (the query could not be embedded)
    code: str  # embedding_stale | reembedding | embedding_unavailable
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class SearchResult:
    passages: list[Passage]
    notices: list[SearchNotice] = field(default_factory=list)


def dense_notice(base: KnowledgeBase, model: str) -> SearchNotice | None:
    """None when ``base`` can be searched densely with ``model``; otherwise why not."""
    if base.embedding_model != model:
        return SearchNotice(base.id, "embedding_stale",
                            f"The knowledge base \"{base.name}\" was embedded with {base.embedding_model}, but "
                            f"this server embeds with {model}: it is searched by keywords only until it is "
                            "re-embedded.")
    if base.reembedding:
        return SearchNotice(base.id, "reembedding",
                            f"The knowledge base \"{base.name}\" is being re-embedded: it is searched by "
                            "keywords only until that finishes.")
    return None


async def _cancel(*tasks: asyncio.Future[object] | None) -> None:
    """Cancel ``tasks`` and wait for them to end (a cancelled embedding releases its reservation)."""
    for task in tasks:
        if task is not None:
            task.cancel()
    for task in tasks:
        if task is not None:
            with contextlib.suppress(BaseException):
                await task


class Retriever:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], embedder: MeteredEmbedder,
                 dense: DenseIndexCache, *, candidates: int = 50) -> None:
        self._sessions = sessions
        self._embedder = embedder
        self._dense = dense
        self._candidates = candidates

    async def search(self, user_id: str, base_ids: Sequence[str], query: str, *, top_k: int = 5,
                     threshold: float | None = None, modes: Sequence[str] = ("bm25", "dense"),
                     who: EmbeddingFor | None = None) -> SearchResult:
        query = query.strip()[:MAX_QUERY_CHARS]
        if not query or not base_ids or top_k < 1:
            return SearchResult([])
        limit = max(self._candidates, top_k)
        # The query is embedded (worker thread, no session open) while one short session checks the bases
        # and runs the lexical ranking (on the database's thread); the dense scan (numpy, in a worker
        # thread) starts as soon as both the vector and the bases are known, while the embedding's usage
        # is recorded.
        vector_ready: asyncio.Future[np.ndarray | None] = asyncio.get_running_loop().create_future()
        embedding = asyncio.ensure_future(self._embed_query(query, who or EmbeddingFor(user_id=user_id),
                                                            vector_ready)) if "dense" in modes else None
        await asyncio.sleep(0)  # the embedding's thread starts first: the session's statements run on this loop
        dense_task: asyncio.Future[list[tuple[int, float]]] | None = None
        ranked_lexical: list[tuple[int, float]] = []
        stale: dict[str, SearchNotice] = {}  # base id -> why it is searched lexically only
        dense_bases: list[tuple[str, int]] = []
        try:
            async with session_scope(self._sessions) as session:
                bases = await repo.owned_bases(session, user_id, base_ids)
                if bases:
                    model = self._embedder.embedder.model_id
                    stale = {b.id: n for b in bases if (n := dense_notice(b, model)) is not None}
                    dense_bases = [(b.id, b.revision) for b in bases if b.id not in stale]
                    if embedding is not None:
                        dense_task = asyncio.ensure_future(
                            self._dense_ranking(vector_ready, dense_bases, limit))
                    ranked_lexical = await lexical.search(session, [b.id for b in bases], query, limit) \
                        if "bm25" in modes else []
            vector, unavailable = await embedding if embedding is not None else (None, None)
            ranked_dense = await dense_task if dense_task is not None else []
        except BaseException:
            await _cancel(dense_task, embedding)
            raise
        if not bases:
            return SearchResult([])
        lexical_only = {b.id for b in bases} if unavailable else set(stale)
        notices = ([unavailable] if unavailable else []) + list(stale.values())
        if unavailable:
            dense_bases, ranked_dense = [], []
        similarity = dict(ranked_dense)
        fused = score_fusion({"bm25": ranked_lexical, "dense": ranked_dense})
        if vector is not None:
            missing = [f.id for f in fused if f.id not in similarity]
            similarity |= await self._dense.similarities(dense_bases, vector, missing)
        if threshold is not None:  # a passage of a base searched lexically only has no similarity: kept
            fused = [f for f in fused if similarity.get(f.id, 1.0 if lexical_only else 0.0) >= threshold]
        fused = fused[:top_k]
        lexical_scores = dict(ranked_lexical)
        async with session_scope(self._sessions) as session:
            rows = await repo.chunks_by_id(session, [f.id for f in fused])
        passages = []
        for f in fused:
            if f.id not in rows:  # its document was deleted since the ranking
                continue
            chunk, name, file_id = rows[f.id]
            passages.append(Passage(
                chunk_id=chunk.id, base_id=chunk.base_id, document_id=chunk.document_id, file_id=file_id,
                name=name, page=chunk.page, char_start=chunk.char_start, char_end=chunk.char_end,
                text=chunk.text, score=f.score, bm25_rank=f.ranks.get("bm25"), dense_rank=f.ranks.get("dense"),
                lexical_score=lexical_scores.get(f.id), similarity=similarity.get(f.id)))
        return SearchResult(passages, notices)

    async def _dense_ranking(self, vector_ready: asyncio.Future[np.ndarray | None], bases: list[tuple[str, int]],
                             limit: int) -> list[tuple[int, float]]:
        """The dense ranking, started as soon as the query's vector exists (its usage is recorded
        meanwhile); none when the query could not be embedded."""
        vector = await vector_ready
        return await self._dense.search(bases, vector, limit) if vector is not None and bases else []

    async def _embed_query(self, query: str, who: EmbeddingFor, vector_ready: asyncio.Future[np.ndarray | None],
                           ) -> tuple[np.ndarray | None, SearchNotice | None]:
        def ready(batch: EmbeddingBatch) -> None:
            if not vector_ready.done():
                vector_ready.set_result(batch.vectors[0])

        try:
            return (await self._embedder.embed([query], who, on_vectors=ready)).vectors[0], None
        except (ProviderError, PaymentRequired) as exc:  # reported with the result: keyword search only
            return None, SearchNotice(None, "embedding_unavailable",
                                      f"The query could not be embedded ({exc.message}): the knowledge bases "
                                      "were searched by keywords only.")
        finally:
            if not vector_ready.done():  # no vector: the dense ranking has nothing to do
                vector_ready.set_result(None)

    async def retrieve_for_turn(self, user_id: str, base_ids: Sequence[str], query: str, top_k: int,
                                token_budget: int, *, threshold: float | None = None,
                                who: EmbeddingFor | None = None) -> SearchResult:
        """Automatic retrieval for a model without tools: the user's message is the query. Passages are
        taken best first while they fit ``token_budget`` (counted with the embedder's tokenizer); a
        passage that does not fit is skipped, a smaller one after it may still go in."""
        result = await self.search(user_id, base_ids, query, top_k=top_k, threshold=threshold, who=who)
        chosen: list[Passage] = []
        used = 0
        for passage in result.passages:
            cost = self._embedder.embedder.count_tokens(passage.text) + 16  # + the source line
            if used + cost > token_budget:
                continue
            chosen.append(passage)
            used += cost
        return SearchResult(chosen, result.notices)
