"""Chunking, the embedded model and score fusion, on their own."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agentcreator.rag.chunking import chunk_pages
from agentcreator.rag.embeddings import MAX_TOKENS, MiniLMEmbedder, from_blobs, to_blob
from agentcreator.rag.fusion import normalized, score_fusion
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


def test_score_fusion_rewards_agreement_and_keeps_each_ranking_s_rank() -> None:
    fused = score_fusion({"bm25": [(1, 9.0), (2, 5.0), (3, 4.0)], "dense": [(3, 0.8), (4, 0.7), (1, 0.6)]})
    assert {f.id for f in fused[:2]} == {1, 3}  # in both rankings: ahead of either ranking's own
    assert {f.id: f.ranks for f in fused}[1] == {"bm25": 1, "dense": 3}
    assert {f.id for f in fused} == {1, 2, 3, 4}
    assert score_fusion({"bm25": [], "dense": []}) == []


def test_score_fusion_weighs_how_sure_a_ranking_is_not_only_its_order() -> None:
    # BM25 is sure of 7 (far ahead of the rest); dense barely prefers 8 to 7. Rank fusion would tie them
    # (each first in one ranking, second in the other); the scores say 7.
    fused = score_fusion({"bm25": [(7, 30.0), (8, 2.0), (9, 1.9), (10, 1.8)],
                          "dense": [(8, 0.61), (7, 0.60), (9, 0.30), (10, 0.29)]})
    assert [f.id for f in fused][:2] == [7, 8]
    # a ranking of one passage (or of equal scores) says nothing about it: the middle of the scale
    assert normalized([3.0]) == [0.5] and normalized([2.0, 2.0]) == [0.5, 0.5]
    # bounds at mean -/+ 3 sigma: symmetric scores centre on 0.5, the ends stay inside 0..1
    low, middle, high = normalized([1.0, 2.0, 3.0])
    assert middle == pytest.approx(0.5) and 0 < low < 0.5 < high < 1 and high - 0.5 == pytest.approx(0.5 - low)


async def test_the_dense_cache_drops_the_least_recently_searched_base(app_state: AppState) -> None:
    from agentcreator.rag.dense import BaseMatrix, DenseIndexCache

    cache = DenseIndexCache(app_state.sessions, 4, max_vectors=3)
    for name in ("a", "b"):
        cache._entries[name] = BaseMatrix(1, np.arange(2, dtype=np.int64), np.zeros((2, 4), dtype=np.float32))
    cache._entries.move_to_end("a")  # "a" searched last
    cache._evict()
    assert list(cache._entries) == ["a"]
    assert cache.cached_revision("b") is None and cache.cached_revision("a") == 1
