"""Conversation export (issue 12): the branch being shown as JSON, Markdown or a ZIP with the attached
files, each attachment described by its file's metadata and a deleted file marked deleted; another
user's conversation is a 404; the download's name comes from the title, cleaned."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, messages
from tests.api.files_helpers import empty_storage, stored_files, uploaded
from tests.conftest import UserSession
from tests.files import samples
from tests.llm.openai_double import OpenAIDouble, Script

MODEL = "double/vision-model"
NOTES = samples.word(["The code word is HERON."])
PHOTO = samples.image("PNG", (40, 30), "green")


@pytest.fixture(autouse=True)
def _clean_storage(app_state: AppState) -> None:
    empty_storage(app_state)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _chat_with_files(client: httpx.AsyncClient, user: UserSession, double: OpenAIDouble,
                           title: str = "Trip notes") -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A conversation whose first message has a photo and a Word document, answered by the double."""
    photo = await uploaded(client, user, "photo.png", PHOTO)
    notes = await uploaded(client, user, "notes.docx", NOTES)
    _, conversation = await make_chat(client, user, model=MODEL)
    renamed = await client.patch(f"/api/conversations/{conversation['id']}", headers=user.headers,
                                 json={"title": title})
    assert renamed.status_code == 200, renamed.text
    double.push(Script(text=["A green picture; the code word is HERON."]))
    sent = await client.post(f"/api/conversations/{conversation['id']}/messages", headers=user.headers,
                             json={"content": "Describe these", "file_ids": [photo["id"], notes["id"]]})
    assert sent.status_code == 201, sent.text
    assert sent.json()["assistant_message"]["status"] == "complete"
    return conversation, photo, notes


async def _export(client: httpx.AsyncClient, user: UserSession, conversation_id: str, fmt: str) -> httpx.Response:
    return await client.get(f"/api/conversations/{conversation_id}/export", params={"format": fmt},
                            headers=user.headers)


def _download_name(response: httpx.Response) -> str:
    """The name a browser saves the download as (``filename*`` wins over ``filename``)."""
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;"), disposition
    for param in disposition.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key == "filename*":
            assert value.startswith("UTF-8''")
            return unquote(value.removeprefix("UTF-8''"))
    return disposition.split('filename="', 1)[1].rsplit('"', 1)[0]


async def test_json_export_describes_the_messages_and_their_files(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    conversation, photo, notes = await _chat_with_files(client, alice, openai_double)
    response = await _export(client, alice, conversation["id"], "json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert _download_name(response) == "Trip notes.json"
    document = response.json()
    assert (document["format"], document["version"]) == ("agentcreator.conversation", 1)
    assert document["conversation"]["title"] == "Trip notes"
    assert document["conversation"]["assistant"]["name"] == "Helper"
    assert document["conversation"]["model"] == MODEL
    user_message, answer = document["messages"]
    assert (user_message["role"], user_message["text"]) == ("user", "Describe these")
    assert [a["id"] for a in user_message["attachments"]] == [photo["id"], notes["id"]]
    described = {a["name"]: a for a in user_message["attachments"]}
    assert described["notes.docx"] == {
        "id": notes["id"], "name": "notes.docx", "mime": notes["mime"], "kind": "document", "size": len(NOTES),
        "sha256": _sha(NOTES), "page_count": notes["page_count"], "deleted": False}
    assert described["photo.png"]["sha256"] == _sha(PHOTO) and described["photo.png"]["kind"] == "image"
    assert [p["file_id"] for p in user_message["parts"] if p["type"] == "file"] == [photo["id"], notes["id"]]
    assert (answer["role"], answer["model"], answer["status"]) == ("assistant", MODEL, "complete")
    assert answer["text"] == "A green picture; the code word is HERON."
    assert answer["attachments"] == [] and answer["citations"] == []
    assert answer["usage"] is not None and answer["created_at"].endswith("Z")


async def test_markdown_export_is_a_readable_transcript(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    conversation, _, _ = await _chat_with_files(client, alice, openai_double)
    response = await _export(client, alice, conversation["id"], "markdown")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert _download_name(response) == "Trip notes.md"
    text = response.text
    assert text.startswith("# Trip notes\n")
    assert "## You" in text and "Describe these" in text
    assert "## Helper" in text and "A green picture; the code word is HERON." in text
    assert "- photo.png (image/png" in text and "- notes.docx (" in text
    assert "files/" not in text  # nothing to link to outside a ZIP


async def test_zip_export_holds_the_transcripts_and_the_exact_files(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    conversation, photo, notes = await _chat_with_files(client, alice, openai_double)
    response = await _export(client, alice, conversation["id"], "zip")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert _download_name(response) == "Trip notes.zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    photo_path, notes_path = f"files/{photo['id']}-photo.png", f"files/{notes['id']}-notes.docx"
    assert archive.namelist() == ["conversation.md", photo_path, notes_path, "conversation.json"]
    assert _sha(archive.read(notes_path)) == _sha(NOTES)
    # An image is kept without its metadata: the ZIP has the stored copy, as a download gives it.
    stored_photo = await client.get(f"/api/files/{photo['id']}/content", headers=alice.headers)
    assert archive.read(photo_path) == stored_photo.content
    document = json.loads(archive.read("conversation.json"))
    attachments = {a["name"]: a for a in document["messages"][0]["attachments"]}
    assert attachments["notes.docx"]["archive"] == {"path": notes_path, "size": len(NOTES), "sha256": _sha(NOTES)}
    assert attachments["photo.png"]["archive"] == {"path": photo_path, "size": len(stored_photo.content),
                                                   "sha256": _sha(stored_photo.content)}
    transcript = archive.read("conversation.md").decode()
    assert f"[notes.docx](<{notes_path}>)" in transcript and f"[photo.png](<{photo_path}>)" in transcript


async def test_a_deleted_file_is_marked_deleted_in_every_format(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    conversation, photo, notes = await _chat_with_files(client, alice, openai_double)
    assert (await client.delete(f"/api/files/{notes['id']}", headers=alice.headers)).status_code == 204
    document = (await _export(client, alice, conversation["id"], "json")).json()
    attachments = {a["name"]: a for a in document["messages"][0]["attachments"]}
    assert attachments["notes.docx"] == {"id": notes["id"], "name": "notes.docx", "mime": notes["mime"],
                                         "kind": "document", "size": len(NOTES), "deleted": True}
    assert attachments["photo.png"]["deleted"] is False
    parts = {p["file_id"]: p for p in document["messages"][0]["parts"] if p["type"] == "file"}
    assert parts[notes["id"]]["deleted"] is True and "deleted" not in parts[photo["id"]]
    transcript = (await _export(client, alice, conversation["id"], "markdown")).text
    assert "- notes.docx — *file deleted*" in transcript
    archive = zipfile.ZipFile(io.BytesIO((await _export(client, alice, conversation["id"], "zip")).content))
    assert archive.namelist() == ["conversation.md", f"files/{photo['id']}-photo.png", "conversation.json"]
    zipped = json.loads(archive.read("conversation.json"))["messages"][0]["attachments"]
    assert [a["deleted"] for a in zipped] == [False, True] and "archive" not in zipped[1]


async def test_a_file_whose_bytes_are_gone_is_listed_as_deleted_in_the_zip(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    conversation, photo, _ = await _chat_with_files(client, alice, openai_double)
    lost = [path for path in stored_files(app_state) if path.read_bytes() == NOTES]
    assert len(lost) == 1
    lost[0].unlink()
    response = await _export(client, alice, conversation["id"], "zip")
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["conversation.md", f"files/{photo['id']}-photo.png", "conversation.json"]
    attachments = json.loads(archive.read("conversation.json"))["messages"][0]["attachments"]
    assert [(a["name"], a["deleted"]) for a in attachments] == [("photo.png", False), ("notes.docx", True)]
    assert "- notes.docx — *file deleted*" in archive.read("conversation.md").decode()


async def test_a_large_attachment_goes_into_the_zip_intact(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    """Several storage chunks (256 KiB each) of text that compresses: the bytes come out the same."""
    data = b"".join(f"line {i:07d}: the quick brown fox\n".encode() for i in range(40_000))
    assert len(data) > 1024 * 1024
    log = await uploaded(client, alice, "server.log.txt", data)
    _, conversation = await make_chat(client, alice, model="openai/gpt-4o-mini")  # a long context
    await client.patch(f"/api/conversations/{conversation['id']}", headers=alice.headers, json={"title": "Logs"})
    openai_double.push(Script(text=["Looks fine."]))
    sent = await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                             json={"content": "Anything odd?", "file_ids": [log["id"]]})
    assert sent.status_code == 201, sent.text
    response = await _export(client, alice, conversation["id"], "zip")
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    member = archive.getinfo(f"files/{log['id']}-server.log.txt")
    assert member.compress_size < member.file_size
    assert _sha(archive.read(member)) == _sha(data) == log["sha256"]


async def test_only_the_branch_being_shown_is_exported(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    _, conversation = await make_chat(client, alice, model=MODEL)
    await client.patch(f"/api/conversations/{conversation['id']}", headers=alice.headers, json={"title": "T"})
    openai_double.push(Script(text=["first answer"]), Script(text=["second answer"]))
    turn = (await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                              json={"content": "Hello"})).json()
    again = await client.post(f"/api/conversations/{conversation['id']}/messages/"
                              f"{turn['assistant_message']['id']}/regenerate", headers=alice.headers)
    assert again.status_code == 201, again.text
    document = (await _export(client, alice, conversation["id"], "json")).json()
    assert [m["text"] for m in document["messages"]] == ["Hello", "second answer"]
    assert "first answer" not in (await _export(client, alice, conversation["id"], "markdown")).text


@pytest.mark.parametrize("fmt", ["json", "markdown", "zip"])
async def test_another_users_conversation_is_not_found_and_unchanged(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        fmt: str) -> None:
    conversation, _, _ = await _chat_with_files(client, alice, openai_double)
    before = await messages(client, alice, conversation["id"])
    title_before = (await client.get(f"/api/conversations/{conversation['id']}", headers=alice.headers)).json()
    response = await _export(client, bob, conversation["id"], fmt)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert "content-disposition" not in response.headers
    assert (await _export(client, bob, "0" * 32, fmt)).status_code == 404
    assert await messages(client, alice, conversation["id"]) == before
    assert (await client.get(f"/api/conversations/{conversation['id']}", headers=alice.headers)).json() == title_before
    assert (await _export(client, alice, conversation["id"], fmt)).status_code == 200


@pytest.mark.parametrize("params", [{"format": "pdf"}, {"format": ""}, {}])
async def test_a_bad_format_is_refused(client: httpx.AsyncClient, alice: UserSession,
                                       params: dict[str, str]) -> None:
    _, conversation = await make_chat(client, alice)
    response = await client.get(f"/api/conversations/{conversation['id']}/export", params=params,
                                headers=alice.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


async def test_an_empty_conversation_exports_without_messages(client: httpx.AsyncClient, alice: UserSession) -> None:
    _, conversation = await make_chat(client, alice)
    document = (await _export(client, alice, conversation["id"], "json")).json()
    assert document["messages"] == [] and document["conversation"]["title"] == "New conversation"
    archive = zipfile.ZipFile(io.BytesIO((await _export(client, alice, conversation["id"], "zip")).content))
    assert archive.namelist() == ["conversation.md", "conversation.json"]


@pytest.mark.parametrize(("title", "expected"), [
    ('../..\\evil "quoted"\u202egnp.exe', "evil -quoted-gnp.exe.md"),
    ("Résumé: plans/2027 | draft?", "Résumé- plans-2027 - draft.md"),
    ("...", "conversation.md"),
    ("\u202e\u2066", "conversation.md"),
])
async def test_a_hostile_title_gives_a_safe_file_name(client: httpx.AsyncClient, alice: UserSession,
                                                      title: str, expected: str) -> None:
    _, conversation = await make_chat(client, alice)
    renamed = await client.patch(f"/api/conversations/{conversation['id']}", headers=alice.headers,
                                 json={"title": title})
    assert renamed.status_code == 200, renamed.text
    response = await _export(client, alice, conversation["id"], "markdown")
    assert response.status_code == 200, response.text
    assert _download_name(response) == expected
    fallback = response.headers["content-disposition"].split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii() and not set(fallback) & set('/\\"') and fallback.endswith(".md")
    assert response.text.startswith("# ")  # the title is shown in the transcript, escaped


async def test_exports_per_minute_are_limited_per_user_and_nothing_changes(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_state.settings.fair_use, "exports_per_minute", 2)
    _, conversation = await make_chat(client, alice)
    _, bobs = await make_chat(client, bob)
    before = await messages(client, alice, conversation["id"])
    for fmt in ("json", "markdown"):
        assert (await _export(client, alice, conversation["id"], fmt)).status_code == 200
    refused = await _export(client, alice, conversation["id"], "zip")
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "too_many_exports"
    assert int(refused.headers["retry-after"]) > 0
    assert await messages(client, alice, conversation["id"]) == before
    # another user's exports are counted on their own
    assert (await _export(client, bob, bobs["id"], "json")).status_code == 200
