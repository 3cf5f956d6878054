"""Regenerate, edit and the continuation at the message cap keep a message's attachments (issue 12): the
model gets the image and the document again, from the stored files."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, messages, send
from tests.api.files_helpers import empty_storage, uploaded
from tests.conftest import UserSession
from tests.files import samples
from tests.llm.openai_double import OpenAIDouble, Script

MODEL = "double/vision-model"


@pytest.fixture(autouse=True)
def _clean_storage(app_state: AppState) -> None:
    empty_storage(app_state)


def _sent(body: dict[str, Any]) -> tuple[list[str], str]:
    """(image URLs, all user text) of a Chat Completions request."""
    images: list[str] = []
    texts: list[str] = []
    for message in body.get("messages") or []:
        if message["role"] != "user":
            continue
        content = message.get("content") or []
        if isinstance(content, str):
            texts.append(content)
            continue
        for part in content:
            if part.get("type") == "image_url":
                images.append(part["image_url"]["url"])
            elif part.get("type") == "text":
                texts.append(part["text"])
    return images, "\n".join(texts)


def _answer_requests(double: OpenAIDouble, marker: str) -> list[dict[str, Any]]:
    return [r.body for r in double.requests if r.path.endswith("/chat/completions") and marker in _sent(r.body)[1]]


async def _files(client: httpx.AsyncClient, user: UserSession) -> tuple[dict[str, Any], dict[str, Any]]:
    photo = await uploaded(client, user, "photo.png", samples.image("PNG", (40, 30), "green"))
    notes = await uploaded(client, user, "notes.docx", samples.word(["The code word is HERON."]))
    return photo, notes


async def test_regenerate_sends_the_attachments_again(client: httpx.AsyncClient, alice: UserSession,
                                                      openai_double: OpenAIDouble) -> None:
    photo, notes = await _files(client, alice)
    _, conversation = await make_chat(client, alice, model=MODEL)
    await client.patch(f"/api/conversations/{conversation['id']}", headers=alice.headers, json={"title": "T"})
    openai_double.push(Script(text=["first"]), Script(text=["second"]))
    turn = (await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                              json={"content": "Describe these", "file_ids": [photo["id"], notes["id"]]})).json()
    again = await client.post(f"/api/conversations/{conversation['id']}/messages/"
                              f"{turn['assistant_message']['id']}/regenerate", headers=alice.headers)
    assert again.status_code == 201, again.text
    first, second = _answer_requests(openai_double, "Describe these")
    for body in (first, second):
        images, text = _sent(body)
        assert len(images) == 1 and images[0].startswith("data:image/") and "HERON" in text
    assert _sent(first)[0] == _sent(second)[0]


async def test_an_edit_with_the_files_keeps_them_and_the_old_version_too(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    photo, notes = await _files(client, alice)
    _, conversation = await make_chat(client, alice, model=MODEL)
    await client.patch(f"/api/conversations/{conversation['id']}", headers=alice.headers, json={"title": "T"})
    openai_double.push(Script(text=["first"]), Script(text=["edited"]))
    turn = (await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                              json={"content": "Describe these", "file_ids": [photo["id"], notes["id"]]})).json()
    edited = await client.post(f"/api/conversations/{conversation['id']}/messages/{turn['user_message']['id']}/edit",
                               headers=alice.headers,
                               json={"content": "Only the picture, please", "file_ids": [photo["id"]]})
    assert edited.status_code == 201, edited.text
    [_, image] = edited.json()["user_message"]["content"]
    assert image["file_id"] == photo["id"]
    [body] = _answer_requests(openai_double, "Only the picture")
    images, text = _sent(body)
    assert len(images) == 1 and "HERON" not in text
    # the first version keeps both files
    versions = edited.json()["user_message"]
    assert versions["id"] != turn["user_message"]["id"]
    first = (await client.post(f"/api/conversations/{conversation['id']}/messages/{turn['user_message']['id']}/select",
                               headers=alice.headers)).json()
    [shown] = [m for m in first["data"] if m["role"] == "user"]
    assert [p.get("file_id") for p in shown["content"] if p["type"] == "file"] == [photo["id"], notes["id"]]


async def test_the_continuation_at_the_cap_carries_the_attachments(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    photo, notes = await _files(client, alice)
    _, conversation = await make_chat(client, alice, model=MODEL, max_messages=4)
    old_id = conversation["id"]
    await client.patch(f"/api/conversations/{old_id}", headers=alice.headers, json={"title": "T"})
    openai_double.push(Script(text=["answer 0"]), Script(text=["answer 1"]))
    assert (await send(client, alice, old_id, "question 0")).status_code == 201
    response = await client.post(f"/api/conversations/{old_id}/messages", headers=alice.headers,
                                 json={"content": "question 1 with files", "file_ids": [photo["id"], notes["id"]]})
    assert response.status_code == 201, response.text
    openai_double.push(Script(text=["A summary."]), Script(text=["continued"]))
    continued = await send(client, alice, old_id, "question 2")
    assert continued.status_code == 201, continued.text
    new_id = continued.json()["conversation_id"]
    assert new_id != old_id
    carried = await messages(client, alice, new_id)
    [with_files] = [m for m in carried if m["role"] == "user" and m["carried_from_id"]]
    assert [p.get("file_id") for p in with_files["content"] if p["type"] == "file"] == [photo["id"], notes["id"]]
    [body] = _answer_requests(openai_double, "question 2")
    images, text = _sent(body)
    assert len(images) == 1 and images[0].startswith("data:image/") and "HERON" in text
