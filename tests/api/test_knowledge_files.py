"""Knowledge documents from files: uploads into a base are stored as the owner's files (the files'
size limit and quota, not the request body limit), files already uploaded are added without a new
upload, and a citation opens its page. Owner scoping both ways: another user's base or file is 404 and
the owner's data is unchanged."""

from __future__ import annotations

from typing import Any

import httpx

from agentcreator.api.middleware import path_pattern
from agentcreator.api.routes import knowledge as knowledge_routes
from agentcreator.services.knowledge_files import pages_of_extracted_text
from agentcreator.state import AppState
from tests.api.files_helpers import file_settings, stored_files, uploaded
from tests.conftest import UserSession
from tests.files import samples
from tests.rag.helpers import make_base, run_jobs

MANUAL = ["The boiler manual. Bleed the radiators every autumn before the heating season starts.",
          "Error code E42 means the pressure is below one bar: top up through the filling loop.",
          "The warranty covers the heat exchanger for ten years from the installation date."]


async def _documents(user: UserSession, base_id: str) -> list[dict[str, Any]]:
    response = await user.client.get(f"/api/knowledge-bases/{base_id}/documents", headers=user.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def _files(user: UserSession) -> list[dict[str, Any]]:
    return list((await user.client.get("/api/files", headers=user.headers)).json()["data"])


def test_extracted_pages_split_at_the_marks_in_order() -> None:
    text = "[Page 1]\nfirst\n\n[Page 2]\nsee [Page 3] below\n\n[Page 3]\nthird"
    assert pages_of_extracted_text(text, ["[Page 1]", "[Page 2]", "[Page 3]"]) == [
        "first", "see [Page 3] below", "third"]
    # Extraction stopped early (the text limit): the pages it reached.
    assert pages_of_extracted_text("[Slide 1]\na\n\n[Slide 2]\nb", ["[Slide 1]", "[Slide 2]", "[Slide 3]"]) == [
        "a", "b"]
    assert pages_of_extracted_text("plain\fsecond", []) == ["plain", "second"]
    assert pages_of_extracted_text("no marks at all", ["[Page 1]"]) == ["no marks at all"]


async def test_a_file_already_uploaded_is_added_with_its_pages_and_a_citation_opens_its_page(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    base = await make_base(alice, "Home")
    file = await uploaded(client, alice, "boiler.pdf", samples.pdf(MANUAL))
    before = len(stored_files(app_state))
    response = await client.post(f"/api/knowledge-bases/{base['id']}/documents/from-file", headers=alice.headers,
                                 json={"file_id": file["id"]})
    assert response.status_code == 202, response.text
    document = response.json()
    assert document["file_id"] == file["id"] and document["name"] == "boiler.pdf"
    assert document["page_count"] == 3
    assert len(stored_files(app_state)) == before  # nothing stored again
    await run_jobs(app_state.knowledge)

    hits = (await client.post(f"/api/knowledge-bases/{base['id']}/search", headers=alice.headers,
                              json={"query": "error code E42 pressure"})).json()["data"]
    top = hits[0]
    assert top["page"] == 2 and top["file_id"] == file["id"]
    page = await client.get(f"/api/knowledge-documents/{top['document_id']}/pages/{top['page']}",
                            headers=alice.headers)
    assert page.status_code == 200, page.text
    opened = page.json()
    assert opened["name"] == "boiler.pdf" and opened["file_id"] == file["id"] and opened["page_count"] == 3
    assert opened["text"][top["char_start"]:top["char_end"]] == top["text"]
    assert "E42" in opened["text"] and "[Page" not in opened["text"]
    assert (await client.get(f"/api/knowledge-documents/{top['document_id']}/pages/4",
                             headers=alice.headers)).status_code == 404
    assert (await client.get(f"/api/knowledge-documents/{top['document_id']}/pages/0",
                             headers=alice.headers)).status_code == 422

    again = await client.post(f"/api/knowledge-bases/{base['id']}/documents/from-file", headers=alice.headers,
                              json={"file_id": file["id"]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_added"


async def test_files_without_text_and_bad_ids_are_refused(client: httpx.AsyncClient, alice: UserSession) -> None:
    base = await make_base(alice)
    url = f"/api/knowledge-bases/{base['id']}/documents/from-file"
    photo = await uploaded(client, alice, "photo.png", samples.image())
    refused = await client.post(url, headers=alice.headers, json={"file_id": photo["id"]})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "no_text"
    for body in ({"file_id": "nope"}, {"file_id": ""}, {}, {"file_id": photo["id"], "extra": 1}, {"file_id": 7}):
        response = await client.post(url, headers=alice.headers, json=body)
        assert response.status_code in (404, 422), (body, response.text)
    assert await _documents(alice, base["id"]) == []
    assert [f["id"] for f in await _files(alice)] == [photo["id"]]


async def test_another_users_base_or_file_is_not_found_and_nothing_changes(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState) -> None:
    alice_base = await make_base(alice, "Alice's")
    alice_file = await uploaded(client, alice, "alice.txt", b"Alice's garden gate code is 4512.")
    added = await client.post(f"/api/knowledge-bases/{alice_base['id']}/documents/from-file", headers=alice.headers,
                              json={"file_id": alice_file["id"]})
    assert added.status_code == 202
    await run_jobs(app_state.knowledge)
    bob_base = await make_base(bob, "Bob's")
    bob_file = await uploaded(client, bob, "bob.txt", b"Bob's notes.")
    alice_before = (await _documents(alice, alice_base["id"]), await _files(alice))
    bob_before = (await _documents(bob, bob_base["id"]), await _files(bob))

    cases = [
        (bob, alice_base["id"], bob_file["id"]),    # bob's file into alice's base
        (bob, bob_base["id"], alice_file["id"]),    # alice's file into bob's base
        (alice, bob_base["id"], alice_file["id"]),  # alice's file into bob's base, by alice
    ]
    for user, base_id, file_id in cases:
        response = await client.post(f"/api/knowledge-bases/{base_id}/documents/from-file", headers=user.headers,
                                     json={"file_id": file_id})
        assert response.status_code == 404, (base_id, file_id, response.text)
    upload = await client.post(f"/api/knowledge-bases/{alice_base['id']}/documents/upload", headers=bob.headers,
                               files={"file": ("planted.txt", b"planted text", "text/plain")})
    assert upload.status_code == 404
    page = await client.get(f"/api/knowledge-documents/{added.json()['id']}/pages/1", headers=bob.headers)
    assert page.status_code == 404
    assert (await client.get(f"/api/knowledge-documents/{added.json()['id']}/pages/1")).status_code == 401

    assert (await _documents(alice, alice_base["id"]), await _files(alice)) == alice_before
    assert (await _documents(bob, bob_base["id"]), await _files(bob)) == bob_before


async def test_an_upload_into_a_base_passes_the_body_limit_up_to_the_file_limit(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    assert app_state.settings.limits.max_body_bytes < 1_500_000 < app_state.files.settings.max_file_bytes
    base = await make_base(alice)
    line = "The lighthouse keeper logs the weather at dawn and dusk every single day.\n"
    big = (line * (1_500_000 // len(line) + 1)).encode()
    response = await client.post(f"/api/knowledge-bases/{base['id']}/documents/upload", headers=alice.headers,
                                 files={"file": ("logbook.txt", big, "text/plain")})
    assert response.status_code == 202, response.text
    document = response.json()
    files = await _files(alice)
    assert [f["id"] for f in files] == [document["file_id"]] and files[0]["size"] == len(big)
    # The body limit still holds everywhere else, this base's JSON documents included.
    json_body = await client.post(f"/api/knowledge-bases/{base['id']}/documents", headers=alice.headers,
                                  json={"name": "big", "text": big.decode()})
    assert json_body.status_code == 413

    # The files' own limits apply to it: the size limit, then the quota; nothing is kept.
    with file_settings(app_state, max_file_bytes=1_000_000):
        too_big = await client.post(f"/api/knowledge-bases/{base['id']}/documents/upload", headers=alice.headers,
                                    files={"file": ("logbook2.txt", big, "text/plain")})
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "file_too_large"
    with file_settings(app_state, user_quota_bytes=len(big) + 1000):
        over = await client.post(f"/api/knowledge-bases/{base['id']}/documents/upload", headers=alice.headers,
                                 files={"file": ("more.txt", b"x" * 5000, "text/plain")})
        assert over.status_code == 413 and over.json()["error"]["code"] == "quota_exceeded"
    assert len(await _files(alice)) == 1 and len(await _documents(alice, base["id"])) == 1


async def test_uploads_of_every_document_type_and_refused_ones_keep_nothing(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    base = await make_base(alice)
    url = f"/api/knowledge-bases/{base['id']}/documents/upload"
    slides = await client.post(url, headers=alice.headers, files={"file": ("deck.pptx", samples.slides(
        ["Quarterly goals", "Hire two engineers in March"]), "application/octet-stream")})
    assert slides.status_code == 202, slides.text
    assert slides.json()["page_count"] == 2
    await run_jobs(app_state.knowledge)
    hits = (await client.post(f"/api/knowledge-bases/{base['id']}/search", headers=alice.headers,
                              json={"query": "hire engineers"})).json()["data"]
    assert hits[0]["name"] == "deck.pptx" and hits[0]["page"] == 2

    files_before = await _files(alice)
    for name, content in [("photo.png", samples.image()), ("blank.txt", b"   \n\n  "),
                          ("x.bin", b"\x00\x01\x02binary"), ("fake.pdf", b"%PDF-1.4 not really")]:
        response = await client.post(url, headers=alice.headers, files={"file": (name, content, "text/plain")})
        assert response.status_code in (415, 422), (name, response.text)
    assert await _files(alice) == files_before
    assert len(await _documents(alice, base["id"])) == 1


async def test_an_assistant_picks_only_its_owners_bases(client: httpx.AsyncClient, alice: UserSession,
                                                        bob: UserSession) -> None:
    """What the assistant form's knowledge-base picker sends: the owner's ids are kept; another user's
    base is 422 on create and update, and neither assistant changes."""
    alice_base, bob_base = await make_base(alice, "Alice's"), await make_base(bob, "Bob's")
    created = await client.post("/api/assistants", headers=alice.headers, json={
        "name": "Reader", "tools": [{"type": "file_search", "knowledge_base_ids": [alice_base["id"]]}]})
    assert created.status_code == 201, created.text
    alice_assistant = created.json()
    bob_assistant = (await client.post("/api/assistants", headers=bob.headers, json={
        "name": "Bob's", "tools": [{"type": "file_search", "knowledge_base_ids": [bob_base["id"]]}]})).json()

    spy = [{"type": "file_search", "knowledge_base_ids": [bob_base["id"], alice_base["id"]]}]
    refused = await client.patch(f"/api/assistants/{bob_assistant['id']}", headers=bob.headers, json={"tools": spy})
    assert refused.status_code == 422 and "knowledge_base_ids.1" in refused.text
    other = await client.patch(f"/api/assistants/{alice_assistant['id']}", headers=bob.headers, json={"tools": spy})
    assert other.status_code == 404
    for user, assistant in ((alice, alice_assistant), (bob, bob_assistant)):
        now = (await client.get(f"/api/assistants/{assistant['id']}", headers=user.headers)).json()
        assert now["tools"] == assistant["tools"] and now["updated_at"] == assistant["updated_at"]

    both = await make_base(alice, "Second")
    updated = await client.patch(f"/api/assistants/{alice_assistant['id']}", headers=alice.headers, json={
        "tools": [{"type": "file_search", "knowledge_base_ids": [alice_base["id"], both["id"]], "top_k": 3}]})
    assert updated.status_code == 200, updated.text
    assert updated.json()["tools"][0]["knowledge_base_ids"] == [alice_base["id"], both["id"]]


def test_a_route_template_exempts_exactly_its_paths() -> None:
    pattern = path_pattern(knowledge_routes.UPLOAD_PATH)
    assert pattern.fullmatch("/api/knowledge-bases/0b47e9/documents/upload")
    for path in ("/api/knowledge-bases/a/b/documents/upload", "/api/knowledge-bases//documents/upload",
                 "/api/knowledge-bases/a/documents/upload/x", "/api/knowledge-bases/a/documents",
                 "/api/knowledge-bases/a/documents/uploadX", "/xapi/knowledge-bases/a/documents/upload"):
        assert not pattern.fullmatch(path), path
    assert path_pattern("/api/files").fullmatch("/api/files") and not path_pattern("/api/files").fullmatch("/api/filesx")
