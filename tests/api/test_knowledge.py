"""Knowledge bases over the API: CRUD, documents through ingestion, hybrid search, deletion, bad input,
and owner scoping (bob gets 404 for each of alice's ids, and alice's data is unchanged)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agentcreator.db.models import KnowledgeChunk
from agentcreator.db.session import session_scope
from agentcreator.repositories import knowledge_lexical
from agentcreator.state import AppState
from tests.conftest import UserSession
from tests.rag.helpers import CORPUS, add_document, make_base, run_jobs


async def _chunks(state: AppState, document_id: str) -> int:
    async with session_scope(state.sessions) as session:
        return int((await session.execute(select(func.count()).select_from(KnowledgeChunk).where(
            KnowledgeChunk.document_id == document_id))).scalar_one())


@pytest.fixture
async def library(alice: UserSession, app_state: AppState) -> dict[str, Any]:
    base = await make_base(alice, "Alice notes")
    documents = {name: await add_document(alice, base["id"], name, pages) for name, pages in CORPUS.items()}
    assert all(d["status"] == "queued" for d in documents.values())
    assert await run_jobs(app_state.knowledge) == len(CORPUS)
    return {"base": base, "documents": documents}


async def test_documents_ingest_and_hybrid_search_finds_the_passage(
        alice: UserSession, library: dict[str, Any]) -> None:
    base_id = library["base"]["id"]
    listed = (await alice.client.get(f"/api/knowledge-bases/{base_id}/documents", headers=alice.headers)).json()
    assert listed["count"] == 3
    for doc in listed["data"]:
        assert doc["status"] == "ready", doc
        assert doc["chunk_count"] >= 1 and doc["progress_done"] == doc["progress_total"] == doc["chunk_count"]
    base = (await alice.client.get(f"/api/knowledge-bases/{base_id}", headers=alice.headers)).json()
    assert base["document_count"] == 3 and base["chunk_count"] >= 3

    # Worded unlike the passage: the dense ranking carries it.
    response = await alice.client.post(f"/api/knowledge-bases/{base_id}/search", headers=alice.headers,
                                       json={"query": "what makes the sea rise and fall?", "top_k": 3})
    assert response.status_code == 200, response.text
    hits = response.json()["data"]
    assert hits[0]["name"] == "tides.md" and hits[0]["dense_rank"] == 1
    # Exact words: both rankings agree.
    hits = (await alice.client.post(f"/api/knowledge-bases/{base_id}/search", headers=alice.headers,
                                    json={"query": "Dutch oven 250 degrees", "top_k": 2})).json()["data"]
    top = hits[0]
    assert top["name"] == "bread.md" and top["page"] == 2
    assert top["bm25_rank"] == 1 and top["dense_rank"] is not None
    assert "Dutch oven" in top["text"] and top["char_end"] - top["char_start"] == len(top["text"])
    assert CORPUS["bread.md"][1][top["char_start"]:top["char_end"]] == top["text"]


async def test_a_threshold_drops_unrelated_passages(alice: UserSession, library: dict[str, Any]) -> None:
    base_id = library["base"]["id"]
    hits = (await alice.client.post(f"/api/knowledge-bases/{base_id}/search", headers=alice.headers, json={
        "query": "quantum chromodynamics of gluons", "top_k": 5, "threshold": 0.5})).json()["data"]
    assert hits == []


async def test_deleting_a_document_removes_its_chunks(alice: UserSession, library: dict[str, Any],
                                                      app_state: AppState) -> None:
    base_id = library["base"]["id"]
    bread = library["documents"]["bread.md"]["id"]
    assert await _chunks(app_state, bread) >= 1
    response = await alice.client.delete(f"/api/knowledge-bases/{base_id}/documents/{bread}", headers=alice.headers)
    assert response.status_code == 204
    assert await _chunks(app_state, bread) == 0
    async with session_scope(app_state.sessions) as session:
        assert await knowledge_lexical.search(session, [base_id], "sourdough Dutch oven", 10) == []
    hits = (await alice.client.post(f"/api/knowledge-bases/{base_id}/search", headers=alice.headers,
                                    json={"query": "sourdough bread Dutch oven"})).json()["data"]
    assert hits and all(h["document_id"] != bread for h in hits)
    missing = await alice.client.get(f"/api/knowledge-bases/{base_id}/documents/{bread}", headers=alice.headers)
    assert missing.status_code == 404


async def test_upload_a_markdown_file_and_bad_files_are_refused(alice: UserSession, app_state: AppState) -> None:
    base_id = (await make_base(alice))["id"]
    url = f"/api/knowledge-bases/{base_id}/documents/upload"
    ok = await alice.client.post(url, headers=alice.headers, files={
        "file": ("../../etc/notes.md", b"# Notes\n\nThe garden gate code is 4512.\fPage two: feed the cat.",
                 "text/markdown")})
    assert ok.status_code == 202, ok.text
    assert ok.json()["name"] == "notes.md" and ok.json()["page_count"] == 2
    await run_jobs(app_state.knowledge)
    hits = (await alice.client.post(f"/api/knowledge-bases/{base_id}/search", headers=alice.headers,
                                    json={"query": "feed the cat"})).json()["data"]
    assert hits[0]["page"] == 2

    for name, content, media, code in [
        ("x.bin", b"\x00\x01\x02binary", "application/octet-stream", "not_text"),
        ("latin.txt", "caf\xe9".encode("latin-1"), "text/plain", "not_text"),
        ("photo.png", b"\x89PNG\r\n", "image/png", "unsupported_file_type"),
        ("blank.txt", b"   \n\n  ", "text/plain", "empty_document"),
    ]:
        response = await alice.client.post(url, headers=alice.headers, files={"file": (name, content, media)})
        assert response.status_code == 422, (name, response.text)
        assert response.json()["error"]["code"] == code
    body = await alice.client.post(f"/api/knowledge-bases/{base_id}/documents", headers=alice.headers,
                                   json={"name": "both", "text": "a", "pages": ["b"]})
    assert body.status_code == 422
    listed = (await alice.client.get(f"/api/knowledge-bases/{base_id}/documents", headers=alice.headers)).json()
    assert listed["count"] == 1  # nothing of the refused ones was kept


async def test_base_crud(alice: UserSession) -> None:
    base = await make_base(alice, "First")
    assert base["embedding_model"] == "local/all-minilm-l6-v2-int8"
    patched = await alice.client.patch(f"/api/knowledge-bases/{base['id']}", headers=alice.headers,
                                       json={"name": "Renamed", "description": "d"})
    assert patched.json()["name"] == "Renamed" and patched.json()["description"] == "d"
    refused = await alice.client.patch(f"/api/knowledge-bases/{base['id']}", headers=alice.headers,
                                       json={"owner_id": "x"})
    assert refused.status_code == 422
    assert (await alice.client.delete(f"/api/knowledge-bases/{base['id']}", headers=alice.headers)).status_code == 204
    assert (await alice.client.get(f"/api/knowledge-bases/{base['id']}", headers=alice.headers)).status_code == 404


async def _snapshot(user: UserSession, base_id: str) -> dict[str, Any]:
    get = user.client.get
    return {"bases": (await get("/api/knowledge-bases", headers=user.headers)).json(),
            "base": (await get(f"/api/knowledge-bases/{base_id}", headers=user.headers)).json(),
            "documents": (await get(f"/api/knowledge-bases/{base_id}/documents", headers=user.headers)).json()}


async def test_another_user_gets_404_everywhere_and_changes_nothing(
        alice: UserSession, bob: UserSession, library: dict[str, Any], app_state: AppState) -> None:
    base_id = library["base"]["id"]
    doc_id = library["documents"]["tides.md"]["id"]
    before = await _snapshot(alice, base_id)
    bob_base = await make_base(bob, "Bob's")
    cases: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/api/knowledge-bases/{base_id}", None),
        ("PATCH", f"/api/knowledge-bases/{base_id}", {"name": "pwned"}),
        ("DELETE", f"/api/knowledge-bases/{base_id}", None),
        ("GET", f"/api/knowledge-bases/{base_id}/documents", None),
        ("POST", f"/api/knowledge-bases/{base_id}/documents", {"name": "x", "text": "planted"}),
        ("GET", f"/api/knowledge-bases/{base_id}/documents/{doc_id}", None),
        ("DELETE", f"/api/knowledge-bases/{base_id}/documents/{doc_id}", None),
        ("POST", f"/api/knowledge-bases/{base_id}/documents/{doc_id}/retry", None),
        ("POST", f"/api/knowledge-bases/{base_id}/search", {"query": "tides moon"}),
        # alice's document through bob's own base
        ("GET", f"/api/knowledge-bases/{bob_base['id']}/documents/{doc_id}", None),
        ("DELETE", f"/api/knowledge-bases/{bob_base['id']}/documents/{doc_id}", None),
    ]
    for method, url, body in cases:
        response = await bob.client.request(method, url, json=body, headers=bob.headers)
        assert response.status_code == 404, (method, url, response.text)
    upload = await bob.client.post(f"/api/knowledge-bases/{base_id}/documents/upload", headers=bob.headers,
                                   files={"file": ("a.txt", b"planted", "text/plain")})
    assert upload.status_code == 404
    assert [b["id"] for b in (await bob.client.get("/api/knowledge-bases", headers=bob.headers)).json()["data"]] \
        == [bob_base["id"]]
    # Never searched: bob naming alice's base gets nothing, in the service as in the tool.
    assert (await app_state.knowledge.search(bob.id, [base_id], "tides moon")).passages == []
    # Never attachable: an assistant of bob's cannot name alice's base.
    response = await bob.client.post("/api/assistants", headers=bob.headers, json={
        "name": "spy", "tools": [{"type": "file_search", "knowledge_base_ids": [base_id]}]})
    assert response.status_code == 422 and "Knowledge base not found" in response.text
    assert await _snapshot(alice, base_id) == before
    unauthenticated = await alice.client.get(f"/api/knowledge-bases/{base_id}")
    assert unauthenticated.status_code == 401


async def test_an_assistant_attaches_its_owners_base(alice: UserSession, library: dict[str, Any],
                                                     client: httpx.AsyncClient) -> None:
    base_id = library["base"]["id"]
    response = await alice.client.post("/api/assistants", headers=alice.headers, json={
        "name": "Reader", "tools": [{"type": "file_search", "knowledge_base_ids": [base_id], "top_k": 3}]})
    assert response.status_code == 201, response.text
    assert response.json()["tools"][0]["knowledge_base_ids"] == [base_id]


@pytest.mark.parametrize("query", [
    '"unbalanced quote', "NEAR(tides moon, 2)", "tid*", "text: moon OR base_id: x", "-moon +tides",
    "moon') OR 1=1 --", "🌊 marées lunaires", "\x00moon\x00", "or and the", "a" * 2000, "(((", "{base_id}: tides",
])
async def test_search_queries_are_words_never_syntax(alice: UserSession, bob: UserSession, query: str,
                                                     library: dict[str, Any]) -> None:
    """Full-text syntax in a query is taken as words: no error, and naming another base's id reaches nothing."""
    alice_base = library["base"]["id"]
    bob_base = await make_base(bob, "Bob's")
    text = query.replace("{base_id}", alice_base)
    for user, base_id in ((alice, alice_base), (bob, bob_base["id"])):
        response = await user.client.post(f"/api/knowledge-bases/{base_id}/search", headers=user.headers,
                                          json={"query": text})
        assert response.status_code in (200, 422), response.text
        if response.status_code == 200 and user is bob:
            assert response.json()["data"] == []
    injected = await bob.client.post(f"/api/knowledge-bases/{bob_base['id']}/search", headers=bob.headers,
                                     json={"query": f'base_id : "{alice_base}" OR text : tides'})
    assert injected.status_code == 200 and injected.json()["data"] == []
