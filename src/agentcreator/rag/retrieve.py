"""Hybrid retrieval: a lexical ranking (the database's full-text index) and a dense one (cosine over
the cached matrix) merged by reciprocal rank fusion.

Owner scoping happens first: only the caller's bases among the ids asked for are searched; another
user's base id is ignored exactly like one that does not exist. No DB session is open while the query
is embedded (it is embedded first, in a worker thread); the short session reads the bases and the
lexical ranking while the dense scan runs in another thread.

``threshold`` is a cosine similarity (0..1): a passage less similar to the query is dropped, whatever
its lexical rank. Without one every fused passage counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.db.session import session_scope
from agentcreator.rag.dense import DenseIndexCache
from agentcreator.rag.embeddings import Embedder
from agentcreator.rag.fusion import RRF_K, reciprocal_rank_fusion
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
    score: float  # fused (reciprocal rank fusion)
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


class Retriever:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], embedder: Embedder,
                 dense: DenseIndexCache, *, candidates: int = 50, rrf_k: int = RRF_K) -> None:
        self._sessions = sessions
        self._embedder = embedder
        self._dense = dense
        self._candidates = candidates
        self._rrf_k = rrf_k

    async def search(self, user_id: str, base_ids: Sequence[str], query: str, *, top_k: int = 5,
                     threshold: float | None = None, modes: Sequence[str] = ("bm25", "dense")) -> list[Passage]:
        query = query.strip()[:MAX_QUERY_CHARS]
        if not query or not base_ids or top_k < 1:
            return []
        limit = max(self._candidates, top_k)
        # The query is embedded first, with no session open; then, in one short session, the bases are
        # checked and the lexical ranking (in the database's thread) runs while the dense scan (numpy,
        # in a worker thread) runs beside it.
        vector = (await self._embedder.embed([query])).vectors[0] if "dense" in modes else None
        ranked_dense: list[tuple[int, float]] = []
        dense_task: asyncio.Future[list[tuple[int, float]]] | None = None
        async with session_scope(self._sessions) as session:
            bases = await repo.owned_bases(session, user_id, base_ids)
            if not bases:
                return []
            dense_bases = [(b.id, b.revision) for b in bases if b.embedding_model == self._embedder.model_id]
            if vector is not None:
                dense_task = asyncio.ensure_future(self._dense.search(dense_bases, vector, limit))
            try:
                ranked_lexical = await lexical.search(session, [b.id for b in bases], query, limit) \
                    if "bm25" in modes else []
            except BaseException:
                if dense_task is not None:
                    dense_task.cancel()
                raise
        similarity: dict[int, float] = {}
        if dense_task is not None:
            ranked_dense = await dense_task
            similarity = dict(ranked_dense)
        fused = reciprocal_rank_fusion(
            {"bm25": [i for i, _ in ranked_lexical], "dense": [i for i, _ in ranked_dense]}, self._rrf_k)
        if vector is not None:
            missing = [f.id for f in fused if f.id not in similarity]
            similarity |= await self._dense.similarities(dense_bases, vector, missing)
        if threshold is not None:
            fused = [f for f in fused if similarity.get(f.id, 0.0) >= threshold]
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
        return passages

    async def retrieve_for_turn(self, user_id: str, base_ids: Sequence[str], query: str, top_k: int,
                                token_budget: int, *, threshold: float | None = None) -> list[Passage]:
        """Automatic retrieval for a model without tools: the user's message is the query. Passages are
        taken best first while they fit ``token_budget`` (counted with the embedder's tokenizer); a
        passage that does not fit is skipped, a smaller one after it may still go in."""
        passages = await self.search(user_id, base_ids, query, top_k=top_k, threshold=threshold)
        chosen: list[Passage] = []
        used = 0
        for passage in passages:
            cost = self._embedder.count_tokens(passage.text) + 16  # + the source line
            if used + cost > token_budget:
                continue
            chosen.append(passage)
            used += cost
        return chosen
