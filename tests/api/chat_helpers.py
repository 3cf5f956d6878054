"""Helpers for chat tests: an assistant + conversation on a double-backed model, and SSE parsing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import UserSession


@dataclass
class SseEvent:
    id: str | None
    type: str
    data: dict[str, Any]


async def sse_events(response: httpx.Response) -> AsyncIterator[SseEvent]:
    """Parse a text/event-stream response into events (comments and retry lines are skipped)."""
    event_id: str | None = None
    event_type = "message"
    data_lines: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data_lines:
                yield SseEvent(event_id, event_type, json.loads("\n".join(data_lines)))
            event_id, event_type, data_lines = None, "message", []
        elif line.startswith(":") or line.startswith("retry:"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "id":
                event_id = value
            elif field == "event":
                event_type = value
            elif field == "data":
                data_lines.append(value)


async def make_chat(client: httpx.AsyncClient, user: UserSession, model: str = "double/gpt-4o-mini",
                    **assistant_fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = {"name": "Helper", "instructions": "Be brief.", "model": model} | assistant_fields
    assistant = await client.post("/api/assistants", headers=user.headers, json=fields)
    assert assistant.status_code == 201, assistant.text
    conversation = await client.post("/api/conversations", headers=user.headers,
                                     json={"assistant_id": assistant.json()["id"]})
    assert conversation.status_code == 201, conversation.text
    return assistant.json(), conversation.json()


async def send(client: httpx.AsyncClient, user: UserSession, conversation_id: str, text: str) -> httpx.Response:
    return await client.post(f"/api/conversations/{conversation_id}/messages", headers=user.headers,
                             json={"content": text})


async def messages(client: httpx.AsyncClient, user: UserSession, conversation_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/conversations/{conversation_id}/messages", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def eventually(check: Any, within: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``check()`` (async, returns a truthy value when done) until it succeeds or time runs out."""
    import asyncio
    import time

    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)
