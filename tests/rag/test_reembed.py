"""Re-embedding on a model change, with two real embedders: the embedded MiniLM model (384 dimensions)
and OpenAI's text-embedding-3-small asked for 64 dimensions, served by the OpenAI double (deterministic
vectors, real HTTP, no network). A base records the model its vectors come from; a server with another
model searches it by keywords only and says so; re-embedding (the ingestion jobs again) switches it,
documents stay searchable meanwhile, and old and new vectors are never mixed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agentcreator.core.config import KnowledgeSettings, Settings
from agentcreator.db.models import KnowledgeBase, KnowledgeChunk, KnowledgeDocument
from agentcreator.rag.embeddings_openai import OpenAIEmbedder
from agentcreator.rag.knowledge import Knowledge, build_embedder
from agentcreator.state import AppState
from tests.api.billing_helpers import usage_records
from tests.conftest import UserSession
from tests.llm.openai_double import HttpError, OpenAIDouble
from tests.rag.helpers import CORPUS, add_document, make_base, run_jobs

OTHER_MODEL = "openai/text-embedding-3-small"


@pytest.fixture
async def other(app_state: AppState, openai_double: OpenAIDouble) -> AsyncIterator[Knowledge]:
    """A second server's knowledge runtime, configured with the other embedding model."""
    settings = Settings(_env_file=None, database_url=app_state.settings.database_url,  # type: ignore[call-arg]
                        openai_api_key="sk-test-double", openai_base_url=openai_double.base_url,
                        knowledge=KnowledgeSettings(workers=0, embedding_model=OTHER_MODEL, embedding_dimensions=64))
    embedder = build_embedder(settings)
    assert isinstance(embedder, OpenAIEmbedder) and (embedder.model_id, embedder.dimensions) == (OTHER_MODEL, 64)
    knowledge = Knowledge(app_state.sessions, embedder, settings.knowledge, app_state.billing)
    yield knowledge
    await knowledge.close()


async def _library(user: UserSession, state: AppState) -> dict[str, Any]:
    base = await make_base(user, "Notes")
    documents = [await add_document(user, base["id"], name, pages) for name, pages in CORPUS.items()]
    assert await run_jobs(state.knowledge) == len(CORPUS)
    return {"base": base, "documents": documents}


async def _base(state: AppState, base_id: str) -> KnowledgeBase:
    async with state.sessions() as session:
        return (await session.execute(select(KnowledgeBase).where(KnowledgeBase.id == base_id))).scalar_one()


async def _vector_lengths(state: AppState, base_id: str) -> dict[int | None, int]:
    """How many chunks of the base have a vector of each byte length (None: no vector)."""
    async with state.sessions() as session:
        rows = await session.execute(select(KnowledgeChunk.vector).where(KnowledgeChunk.base_id == base_id))
        lengths: dict[int | None, int] = {}
        for (blob,) in rows:
            key = None if blob is None else len(blob)
            lengths[key] = lengths.get(key, 0) + 1
        return lengths


async def _statuses(state: AppState, base_id: str) -> set[str]:
    async with state.sessions() as session:
        return set((await session.execute(select(KnowledgeDocument.status).where(
            KnowledgeDocument.base_id == base_id))).scalars())


async def test_a_model_change_makes_a_base_stale_until_it_is_re_embedded(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState, other: Knowledge,
        openai_double: OpenAIDouble) -> None:
    current = (await client.get("/api/admin/prices", headers=alice.headers)).json()  # alice is the admin
    priced = await client.put("/api/admin/prices", headers=alice.headers, json={
        "note": "embeddings", "tools": current["tools"], "models": current["models"] + [
            {"pattern": "*/text-embedding-3-small", "input_per_1m": 1_000_000, "cached_input_per_1m": None,
             "output_per_1m": 0}]})
    assert priced.status_code == 200, priced.text
    library = await _library(alice, app_state)
    base_id = library["base"]["id"]
    public = (await alice.client.get(f"/api/knowledge-bases/{base_id}", headers=alice.headers)).json()
    assert (public["embedding_model"], public["embedding_dimensions"], public["embedding_status"]) == (
        "local/all-minilm-l6-v2-int8", 384, "current")
    chunks = sum((await _vector_lengths(app_state, base_id)).values())
    assert await _vector_lengths(app_state, base_id) == {384 * 4: chunks}

    # The server now embeds with the other model: the base is stale, searched by keywords only, with a notice.
    stale = await other.search(alice.id, [base_id], "Dutch oven bread crust", top_k=3, threshold=0.5)
    assert [n.code for n in stale.notices] == ["embedding_stale"]
    assert "local/all-minilm-l6-v2-int8" in stale.notices[0].message
    assert stale.passages and stale.passages[0].name == "bread.md"
    assert all(p.dense_rank is None and p.similarity is None for p in stale.passages)

    # Re-embed: the base switches model, its old vectors go, every document's job is queued again.
    assert await other.reembed(base_id, owner_id=alice.id) == len(CORPUS)
    base = await _base(app_state, base_id)
    assert (base.embedding_model, base.embedding_dimensions, base.reembedding) == (OTHER_MODEL, 64, True)
    assert await _vector_lengths(app_state, base_id) == {None: chunks}
    assert await _statuses(app_state, base_id) == {"ready"}  # still searchable by keywords
    during = await other.search(alice.id, [base_id], "tides moon", top_k=2)
    assert [n.code for n in during.notices] == ["reembedding"] and during.passages[0].name == "tides.md"
    # Seen from the MiniLM server, the base is now another model's: stale.
    seen = (await alice.client.get(f"/api/knowledge-bases/{base_id}", headers=alice.headers)).json()
    assert (seen["embedding_status"], seen["server_embedding_model"]) == ("stale", "local/all-minilm-l6-v2-int8")

    assert await run_jobs(other) == len(CORPUS)
    base = await _base(app_state, base_id)
    assert (base.embedding_model, base.reembedding, base.embedding_error) == (OTHER_MODEL, False, None)
    assert await _vector_lengths(app_state, base_id) == {64 * 4: chunks}
    assert await _statuses(app_state, base_id) == {"ready"}
    found = await other.search(alice.id, [base_id], "sourdough starter flour water salt", top_k=2)
    assert found.notices == [] and found.passages[0].name == "bread.md" and found.passages[0].dense_rank == 1
    # The double's vectors carry words: a query sharing none of a passage's words is not similar to it.
    assert found.passages[0].similarity is not None and found.passages[0].similarity > 0.3

    # The re-embedding was metered as the other model's usage, for alice, at its price ($1 per 1M tokens).
    records = [r for r in await usage_records(app_state, kind="embedding") if r.provider == "openai"]
    assert records and {(r.user_id, r.model) for r in records} == {(alice.id, "text-embedding-3-small")}
    assert all(r.priced and r.cost_micros == r.input_tokens > 0 for r in records)
    embedded = [r.body for r in openai_double.requests if r.path == "/v1/embeddings"]
    assert embedded and all(b["dimensions"] == 64 and b["model"] == "text-embedding-3-small" for b in embedded)

    # Back on MiniLM: the owner asks for a re-embed over the API; n/m progress, then current again.
    started = await alice.client.post(f"/api/knowledge-bases/{base_id}/re-embed", headers=alice.headers)
    assert started.status_code == 202, started.text
    assert (started.json()["embedding_status"], started.json()["embedding_done"], started.json()["embedding_total"]) \
        == ("reembedding", 0, chunks)
    again = await alice.client.post(f"/api/knowledge-bases/{base_id}/re-embed", headers=alice.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "reembedding"
    searched = (await alice.client.post(f"/api/knowledge-bases/{base_id}/search", headers=alice.headers,
                                        json={"query": "tides moon"})).json()
    assert [n["code"] for n in searched["notices"]] == ["reembedding"] and searched["data"]
    assert await run_jobs(app_state.knowledge) == len(CORPUS)
    done = (await alice.client.get(f"/api/knowledge-bases/{base_id}", headers=alice.headers)).json()
    assert (done["embedding_model"], done["embedding_dimensions"], done["embedding_status"]) == (
        "local/all-minilm-l6-v2-int8", 384, "current")
    assert await _vector_lengths(app_state, base_id) == {384 * 4: chunks}
    hits = (await alice.client.post(f"/api/knowledge-bases/{base_id}/search", headers=alice.headers,
                                    json={"query": "what makes the sea rise and fall?"})).json()
    assert hits["notices"] == [] and hits["data"][0]["name"] == "tides.md" and hits["data"][0]["dense_rank"] == 1


async def test_a_failed_re_embed_keeps_documents_searchable_and_can_be_retried(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState, other: Knowledge,
        openai_double: OpenAIDouble) -> None:
    library = await _library(alice, app_state)
    base_id = library["base"]["id"]
    # The provider refuses every embedding request (the SDK retries twice per call).
    openai_double.embedding_errors.extend(HttpError(500, "upstream exploded", type="server_error")
                                          for _ in range(3 * len(CORPUS) * 3))
    await other.reembed(base_id, owner_id=alice.id)
    await run_jobs(other)
    base = await _base(app_state, base_id)
    assert base.reembedding and base.embedding_error and "openai" in base.embedding_error
    assert other.embedding_status(base.embedding_model, base.reembedding, base.embedding_error) == "reembed_failed"
    assert await _statuses(app_state, base_id) == {"ready"}
    # The query cannot be embedded either: keywords only, and the result says why.
    result = await other.search(alice.id, [base_id], "Mauna Loa shield volcano", top_k=1)
    assert result.passages[0].name == "volcanoes.md"
    assert [(n.code, n.base_id) for n in result.notices] == [("embedding_unavailable", None), ("reembedding", base_id)]
    assert "upstream exploded" in result.notices[0].message

    openai_double.embedding_errors.clear()
    assert await other.reembed(base_id, owner_id=alice.id) == len(CORPUS)
    assert (await _base(app_state, base_id)).embedding_error is None
    await run_jobs(other)
    base = await _base(app_state, base_id)
    assert (base.reembedding, base.embedding_error) == (False, None)
    assert set(await _vector_lengths(app_state, base_id)) == {64 * 4}


async def test_new_documents_follow_the_base_model_and_an_empty_base_takes_the_servers(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState, other: Knowledge) -> None:
    library = await _library(alice, app_state)
    base_id = library["base"]["id"]
    # A document added to the stale base through the other server: kept, searchable by keywords, and no
    # vector of the other model is written next to MiniLM's.
    document = await other.ingest_document(base_id, "owls.md", ["Barn owls hunt voles at night over meadows."],
                                           owner_id=alice.id)
    await run_jobs(other)
    async with app_state.sessions() as session:
        stored = (await session.execute(select(KnowledgeDocument).where(KnowledgeDocument.id == document.id))).scalar_one()
        blank = (await session.execute(select(func.count()).select_from(KnowledgeChunk).where(
            KnowledgeChunk.document_id == document.id, KnowledgeChunk.vector.is_(None)))).scalar_one()
    assert stored.status == "ready" and stored.chunk_count == blank >= 1
    assert (await _base(app_state, base_id)).embedding_model == "local/all-minilm-l6-v2-int8"
    assert set(await _vector_lengths(app_state, base_id)) == {384 * 4, None}
    found = await other.search(alice.id, [base_id], "barn owls voles", top_k=1)
    assert found.passages[0].name == "owls.md"

    # An empty base has nothing to mix with: it takes the model of the server that fills it.
    empty = await make_base(alice, "Fresh")
    await other.ingest_document(empty["id"], "owls.md", ["Barn owls hunt voles at night."], owner_id=alice.id)
    await run_jobs(other)
    fresh = await _base(app_state, empty["id"])
    assert (fresh.embedding_model, fresh.embedding_dimensions) == (OTHER_MODEL, 64)
    assert set(await _vector_lengths(app_state, empty["id"])) == {64 * 4}


async def test_another_user_cannot_re_embed_a_base(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState) -> None:
    library = await _library(alice, app_state)
    base_id = library["base"]["id"]
    before = await _vector_lengths(app_state, base_id)
    response = await bob.client.post(f"/api/knowledge-bases/{base_id}/re-embed", headers=bob.headers)
    assert response.status_code == 404
    response = await bob.client.post("/api/knowledge-bases/not-an-id/re-embed", headers=bob.headers)
    assert response.status_code == 404
    base = await _base(app_state, base_id)
    assert (base.reembedding, base.embedding_model) == (False, "local/all-minilm-l6-v2-int8")
    assert await _vector_lengths(app_state, base_id) == before
    assert await run_jobs(app_state.knowledge) == 0  # nothing was queued


def test_the_embedding_model_setting_is_validated() -> None:
    assert KnowledgeSettings().embedding_model == "local/all-minilm-l6-v2-int8"
    assert KnowledgeSettings(embedding_model=OTHER_MODEL).embedding_model == OTHER_MODEL
    for bad in ("local/other", "ollama/nomic-embed-text", "openai/", "minilm"):
        with pytest.raises(ValueError, match="embedding model"):
            KnowledgeSettings(embedding_model=bad)


async def test_an_admin_re_embeds_every_stale_base_for_its_owner(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState, other: Knowledge) -> None:
    library = await _library(alice, app_state)  # alice (the admin): MiniLM, current
    bobs = await make_base(bob, "Bob's")  # bob's base is filled by the other server: its model
    await other.ingest_document(bobs["id"], "owls.md", ["Barn owls hunt voles at night."], owner_id=bob.id)
    await run_jobs(other)
    assert (await _base(app_state, bobs["id"])).embedding_model == OTHER_MODEL
    alice_vectors = await _vector_lengths(app_state, library["base"]["id"])

    denied = await bob.client.post("/api/admin/knowledge-bases/re-embed-stale", headers=bob.headers)
    assert denied.status_code == 403
    assert (await _base(app_state, bobs["id"])).reembedding is False
    before = len(await usage_records(app_state, user_id=bob.id, kind="embedding"))

    response = await alice.client.post("/api/admin/knowledge-bases/re-embed-stale", headers=alice.headers)
    assert response.status_code == 202, response.text
    assert response.json() == {"bases": 1, "jobs": 1, "embedding_model": "local/all-minilm-l6-v2-int8"}
    assert await run_jobs(app_state.knowledge) == 1
    base = await _base(app_state, bobs["id"])
    assert (base.embedding_model, base.embedding_dimensions, base.reembedding) == (
        "local/all-minilm-l6-v2-int8", 384, False)
    assert set(await _vector_lengths(app_state, bobs["id"])) == {384 * 4}
    assert await _vector_lengths(app_state, library["base"]["id"]) == alice_vectors  # untouched
    local = [r for r in await usage_records(app_state, user_id=bob.id, kind="embedding") if r.provider == "local"]
    assert len(local) >= 1 and len(await usage_records(app_state, user_id=bob.id, kind="embedding")) > before
