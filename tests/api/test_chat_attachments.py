"""Sends and edits take ``file_ids``: checked before anything is saved (another user's file is a 404,
an image to a model without vision a 422 naming the model)."""

from __future__ import annotations

import json

import httpx
import pytest

from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, messages, send
from tests.api.files_helpers import empty_storage, uploaded
from tests.conftest import UserSession
from tests.files import samples
from tests.llm.openai_double import OpenAIDouble, Script


@pytest.fixture(autouse=True)
def _clean_storage(app_state: AppState) -> None:
    empty_storage(app_state)


async def _unchanged(client: httpx.AsyncClient, user: UserSession, conversation_id: str, before: list,
                     double: OpenAIDouble, calls_before: int) -> None:
    assert await messages(client, user, conversation_id) == before
    assert len(double.requests) == calls_before


@pytest.mark.parametrize("route", ["send", "edit"])
async def test_another_users_file_is_not_found_and_nothing_is_saved(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        route: str) -> None:
    _, conversation = await make_chat(client, alice, model="openai/gpt-4o-mini")
    turn = (await send(client, alice, conversation["id"], "first")).json()
    bobs = await uploaded(client, bob, "bob.png", samples.image())
    before = await messages(client, alice, conversation["id"])
    calls = len(openai_double.requests)
    path = "/messages" if route == "send" else f"/messages/{turn['user_message']['id']}/edit"
    response = await client.post(f"/api/conversations/{conversation['id']}{path}", headers=alice.headers,
                                 json={"content": "look", "file_ids": [bobs["id"]]})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["details"] == {"file_ids": [bobs["id"]]}
    await _unchanged(client, alice, conversation["id"], before, openai_double, calls)
    bob_file = await client.get(f"/api/files/{bobs['id']}", headers=bob.headers)
    assert bob_file.json()["conversation_id"] is None


async def test_an_image_to_a_model_without_vision_is_refused(client: httpx.AsyncClient, alice: UserSession,
                                                             openai_double: OpenAIDouble) -> None:
    _, conversation = await make_chat(client, alice, model="double/gpt-4o-mini")
    image = await uploaded(client, alice, "photo.png", samples.image())
    calls = len(openai_double.requests)
    response = await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                                 json={"content": "what is this?", "file_ids": [image["id"]]})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "model_cannot_see_images"
    assert "double/gpt-4o-mini" in error["message"] and error["details"] == {"model": "double/gpt-4o-mini"}
    await _unchanged(client, alice, conversation["id"], [], openai_double, calls)


@pytest.mark.parametrize(("body", "status"), [
    ({"content": "x", "file_ids": ["0" * 32] * 11}, 422),
    ({"content": "x", "file_ids": ["0" * 32]}, 404),
    ({"content": "", "file_ids": []}, 422),
    ({"content": "x", "file_ids": [""]}, 422),
])
async def test_bad_file_ids(client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble,
                            body: dict, status: int) -> None:
    _, conversation = await make_chat(client, alice)
    response = await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                                 json=body)
    assert response.status_code == status, response.text
    assert await messages(client, alice, conversation["id"]) == []


async def test_the_socket_checks_file_ids_too(live_client: httpx.AsyncClient, live_server: str, alice: UserSession,
                                              bob: UserSession, openai_double: OpenAIDouble) -> None:
    from tests.api.test_ws import authed, recv

    _, conversation = await make_chat(live_client, alice, model="double/gpt-4o-mini")
    bobs = await uploaded(live_client, bob, "bob.png", samples.image())
    mine = await uploaded(live_client, alice, "mine.png", samples.image())
    calls = len(openai_double.requests)
    async with await authed(live_server, alice) as ws:
        for file_id, code in ((bobs["id"], "not_found"), (mine["id"], "model_cannot_see_images")):
            await ws.send(json.dumps({"type": "send", "conversation_id": conversation["id"], "content": "see",
                                      "file_ids": [file_id], "request_id": "f"}))
            answer = await recv(ws)
            assert answer["type"] == "error" and answer["error"]["code"] == code, answer
    await _unchanged(live_client, alice, conversation["id"], [], openai_double, calls)


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "double/vision-model"])
async def test_attached_files_reach_the_model_and_stay_in_the_history(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState,
        model: str) -> None:
    """An image goes to the model as an image part (a data URL of the stored copy), a document as its
    extracted text; the next turn sends them again from the history, and the context report lists them."""
    photo = await uploaded(client, alice, "photo.png", samples.image("PNG", (40, 30), "blue"))
    notes = await uploaded(client, alice, "notes.docx", samples.word(["The launch code word is PELICAN."]))
    _, conversation = await make_chat(client, alice, model=model)
    openai_double.push(Script(text=["A blue picture."]), Script(text=["Title"]), Script(text=["PELICAN."]))
    response = await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                                 json={"content": "What is in these?", "file_ids": [photo["id"], notes["id"]]})
    assert response.status_code == 201, response.text
    answer = response.json()["assistant_message"]
    assert answer["status"] == "complete"

    def sent(body: dict) -> tuple[list[str], str]:
        """(image URLs, all text) of the request's user messages, on either protocol."""
        images: list[str] = []
        texts: list[str] = []
        for message in body.get("messages") or body.get("input") or []:
            content = message.get("content") or []
            if isinstance(content, str):
                texts.append(content)
                continue
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "image_url":
                    images.append(part["image_url"]["url"])
                elif part.get("type") == "input_image":
                    images.append(part["image_url"])
                elif part.get("type") in ("text", "input_text"):
                    texts.append(part["text"])
        return images, "\n".join(texts)

    chat_requests = [r for r in openai_double.requests if r.path.endswith(("/responses", "/chat/completions"))]
    images, text = sent(chat_requests[0].body)
    assert len(images) == 1 and images[0].startswith("data:image/")
    assert "PELICAN" in text and "What is in these?" in text
    context = (await client.get(f"/api/conversations/{conversation['id']}/messages/{answer['id']}/context",
                                headers=alice.headers)).json()["context"]
    assert [(a["name"], a["kind"]) for a in context["attachments"]] == [("photo.png", "image"), ("notes.docx", "document")]
    assert all(a["tokens"] > 0 for a in context["attachments"])
    await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                      json={"content": "And the code word?"})
    # The next turn's request (the first turn's title call may come after it).
    second = [r for r in openai_double.requests if r.path.endswith(("/responses", "/chat/completions"))
              and "And the code word?" in sent(r.body or {})[1]]
    images, text = sent(second[-1].body)
    assert len(images) == 1 and "PELICAN" in text
