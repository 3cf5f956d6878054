"""Dense search: brute force over a per-base matrix of unit vectors, held in memory.

Each process keeps its own cache, keyed by base id and checked against the base's ``revision`` (bumped
in the database whenever the base's searchable chunks change), so a worker never serves a stale
matrix after another worker changed the base. Loading reads the BLOBs in one short session.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.db.session import session_scope
from agentcreator.rag.embeddings import from_blobs
from agentcreator.repositories import knowledge as repo


@dataclass(frozen=True)
class BaseMatrix:
    revision: int
    ids: np.ndarray  # (n,) int64 chunk ids
    vectors: np.ndarray  # (n, d) float32, unit rows


class DenseIndexCache:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], dimensions: int,
                 max_vectors: int = 2_000_000) -> None:
        self._sessions = sessions
        self._dimensions = dimensions
        # Least recently searched bases are dropped past ``max_vectors`` rows in all (~1.5 KB a row).
        self._max_vectors = max_vectors
        self._entries: OrderedDict[str, BaseMatrix] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def invalidate(self, base_id: str) -> None:
        self._entries.pop(base_id, None)

    def cached_revision(self, base_id: str) -> int | None:
        entry = self._entries.get(base_id)
        return entry.revision if entry else None

    async def matrix(self, base_id: str, revision: int) -> BaseMatrix:
        entry = self._entries.get(base_id)
        if entry is not None and entry.revision == revision:
            self._entries.move_to_end(base_id)
            return entry
        lock = self._locks.setdefault(base_id, asyncio.Lock())
        async with lock:
            entry = self._entries.get(base_id)
            if entry is not None and entry.revision == revision:
                return entry
            async with session_scope(self._sessions) as session:
                rows = await repo.base_vectors(session, base_id)
            ids = np.fromiter((i for i, _ in rows), dtype=np.int64, count=len(rows))
            vectors = await asyncio.to_thread(from_blobs, [b for _, b in rows], self._dimensions)
            entry = BaseMatrix(revision, ids, vectors)
            self._entries[base_id] = entry
            self._entries.move_to_end(base_id)
            self._evict()
            return entry

    def _evict(self) -> None:
        total = sum(len(e.ids) for e in self._entries.values())
        while total > self._max_vectors and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            total -= len(dropped.ids)

    async def search(self, bases: Sequence[tuple[str, int]], query: np.ndarray,
                     limit: int) -> list[tuple[int, float]]:
        """The ``limit`` chunks most similar to ``query`` over ``bases`` ((id, revision) pairs),
        best first: ``[(chunk_id, cosine)]``."""
        matrices = [await self.matrix(base_id, revision) for base_id, revision in bases]
        matrices = [m for m in matrices if len(m.ids)]
        if not matrices:
            return []
        return await asyncio.to_thread(_top, matrices, query, limit)

    async def similarities(self, bases: Sequence[tuple[str, int]], query: np.ndarray,
                           chunk_ids: Sequence[int]) -> dict[int, float]:
        """Cosine similarity of ``query`` to each of ``chunk_ids`` found in the cached matrices."""
        out: dict[int, float] = {}
        wanted = np.array(list(chunk_ids), dtype=np.int64)
        for base_id, revision in bases:
            entry = await self.matrix(base_id, revision)
            if not len(entry.ids):
                continue
            positions = np.searchsorted(entry.ids, wanted)
            positions = np.clip(positions, 0, len(entry.ids) - 1)
            hit = entry.ids[positions] == wanted
            for chunk_id, position in zip(wanted[hit], positions[hit], strict=True):
                out[int(chunk_id)] = float(entry.vectors[position] @ query)
        return out


def _top(matrices: list[BaseMatrix], query: np.ndarray, limit: int) -> list[tuple[int, float]]:
    scores = np.concatenate([m.vectors @ query for m in matrices])
    ids = np.concatenate([m.ids for m in matrices])
    k = min(limit, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(ids[i]), float(scores[i])) for i in top]
