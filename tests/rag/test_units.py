"""Chunking, the embedded model and rank fusion, on their own."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agentcreator.rag.chunking import chunk_pages
from agentcreator.rag.embeddings import MAX_TOKENS, MiniLMEmbedder, from_blobs, to_blob
from agentcreator.rag.fusion import reciprocal_rank_fusion
from agentcreator.state import AppState


@pytest.fixture(scope="module")
def embedder(app_state: AppState) -> MiniLMEmbedder:
    assert isinstance(app_state.knowledge.embedder, MiniLMEmbedder)
    return app_state.knowledge.embedder


def test_chunks_count_tokens_overlap_and_keep_offsets_and_pages(embedder: MiniLMEmbedder) -> None:
    page = "\n\n".join(f"Section {n}. " + " ".join(f"word{n}x{i}" for i in range(40)) for n in range(12))
    pages = [page, "", "   ", "A short last page."]
    chunks = chunk_pages(pages, embedder.count_tokens, chunk_tokens=64, overlap=0.2)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert {c.page for c in chunks} == {1, 4}  # blank pages give no chunk
    for c in chunks:
        assert pages[c.page - 1][c.char_start:c.char_end] == c.text
        assert embedder.count_tokens(c.text) <= 64
    first_page = [c for c in chunks if c.page == 1]
    assert len(first_page) > 5
    assert any(b.char_start < a.char_end for a, b in itertools.pairwise(first_page))  # overlap
    assert max(c.char_end for c in first_page) == len(page.rstrip())


def test_vectors_are_unit_length_ordered_and_meaningful(embedder: MiniLMEmbedder) -> None:
    texts = ["A cat sleeps on the sofa.", "Interest rates rose again this quarter.", "The kitten naps on a couch."]
    batch = embedder.embed_sync(texts)
    assert batch.vectors.shape == (3, 384) and batch.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch.vectors, axis=1), 1.0, atol=1e-4)
    sims = batch.vectors @ batch.vectors.T
    assert sims[0, 2] > 0.5 > sims[0, 1]
    one_by_one = np.stack([embedder.embed_sync([t]).vectors[0] for t in texts])
    assert np.allclose(one_by_one, batch.vectors, atol=1e-4)  # padding and batch order change nothing
    assert np.array_equal(from_blobs([to_blob(v) for v in batch.vectors], 384), batch.vectors)


def test_long_texts_are_truncated_at_256_tokens(embedder: MiniLMEmbedder) -> None:
    base = " ".join(f"token{i}" for i in range(400))
    assert embedder.count_tokens(base) > MAX_TOKENS
    a = embedder.embed_sync([base]).vectors[0]
    b = embedder.embed_sync([base + " and then something completely different at the very end"]).vectors[0]
    assert np.allclose(a, b, atol=1e-5)
    assert embedder.embed_sync([base]).tokens == MAX_TOKENS


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion({"bm25": [1, 2, 3], "dense": [3, 4, 1]})
    assert [f.id for f in fused][:2] == [1, 3]
    assert fused[0].ranks == {"bm25": 1, "dense": 3}
    assert {f.id for f in fused} == {1, 2, 3, 4}
    assert reciprocal_rank_fusion({"bm25": [], "dense": []}) == []


async def test_the_dense_cache_drops_the_least_recently_searched_base(app_state: AppState) -> None:
    from agentcreator.rag.dense import BaseMatrix, DenseIndexCache

    cache = DenseIndexCache(app_state.sessions, 4, max_vectors=3)
    for name in ("a", "b"):
        cache._entries[name] = BaseMatrix(1, np.arange(2, dtype=np.int64), np.zeros((2, 4), dtype=np.float32))
    cache._entries.move_to_end("a")  # "a" searched last
    cache._evict()
    assert list(cache._entries) == ["a"]
    assert cache.cached_revision("b") is None and cache.cached_revision("a") == 1
