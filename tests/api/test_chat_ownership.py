"""Every chat route refuses another user's conversation with 404 and leaves the owner's data unchanged."""

from __future__ import annotations

import httpx
import pytest

from tests.api.chat_helpers import eventually, make_chat, messages, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble

ROUTES = [
    ("POST", "/messages", {"content": "hijack"}),
    ("POST", "/messages/{answer}/regenerate", None),
    ("POST", "/messages/{question}/edit", {"content": "hijack"}),
    ("POST", "/messages/{answer}/select", None),
    ("POST", "/stop", None),
    ("GET", "/events", None),
    ("GET", "/thread", None),
    ("GET", "/messages/{answer}/context", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_another_user_gets_404_and_nothing_changes(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        method: str, path: str, body: dict | None) -> None:
    _, conversation = await make_chat(client, alice)
    turn = (await send(client, alice, conversation["id"], "mine")).json()

    async def titled() -> bool:  # the title call follows the answer: let it finish before counting calls
        current = await client.get(f"/api/conversations/{conversation['id']}", headers=alice.headers)
        return current.json()["title"] != "New conversation"

    assert await eventually(titled)
    before = await messages(client, alice, conversation["id"])
    calls_before = len(openai_double.requests)
    url = f"/api/conversations/{conversation['id']}" + path.format(
        answer=turn["assistant_message"]["id"], question=turn["user_message"]["id"])
    response = await client.request(method, url, headers=bob.headers, json=body)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert await messages(client, alice, conversation["id"]) == before
    assert len(openai_double.requests) == calls_before
    unauthenticated = await client.request(method, url, json=body)
    assert unauthenticated.status_code == 401
