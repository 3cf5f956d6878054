"""A chat turn through the HTTP API with the Redis event bus (several workers' set-up), on the real
Redis: the SSE answer and the non-streaming send both come through the shared reader
(chat/redis_fanout.py), and another user is still refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from agentcreator.core.ratelimit import RedisRateLimiter
from agentcreator.main import create_app
from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, send, sse_events
from tests.conftest import make_settings, register
from tests.llm.openai_double import OpenAIDouble, Script

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def redis_client(client: httpx.AsyncClient, database_url: str, openai_double: OpenAIDouble,
                       tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, AppState]]:  # client: empties the tables
    probe = Redis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except OSError as exc:
        pytest.skip(f"redis unreachable: {exc}")
    finally:
        await probe.aclose()
    settings = make_settings(database_url, tmp_path, openai_double.base_url, redis_url=REDIS_URL)
    state = AppState.build(settings)
    run = uuid.uuid4().hex[:8]
    state.bus._prefix = f"test-{run}:"  # type: ignore[attr-defined]  # no clash with other runs
    assert state.redis is not None
    state.rate_limiter = RedisRateLimiter(state.redis, prefix=f"test-{run}:rl:")  # (registrations per address)
    await state.start(recover_interrupted=False)
    app: Any = create_app(settings)
    app.state.services = state
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            yield c, state
    finally:
        await state.close()


async def test_a_streamed_and_a_waited_for_answer_come_through_redis(
        redis_client: tuple[httpx.AsyncClient, AppState], openai_double: OpenAIDouble) -> None:
    redis_client, state = redis_client
    alice = await register(redis_client, "alice@example.com", "Alice")
    _, conversation = await make_chat(redis_client, alice)
    openai_double.push(Script(text=["Through", " Redis"]), Script(text=["Title"]), Script(text=["Second"]))
    async with redis_client.stream("POST", f"/api/conversations/{conversation['id']}/messages",
                                   headers=alice.headers | {"Accept": "text/event-stream"},
                                   json={"content": "hello"}) as response:
        assert response.status_code == 200
        events = [event async for event in sse_events(response)]
    types = [e.type for e in events]
    assert types[0] == "turn_started" and "turn_completed" in types, types
    assert "".join(e.data["text"] for e in events if e.type == "text_delta") == "Through Redis"
    assert events[types.index("turn_completed")].data["message"]["text"] == "Through Redis"
    assert events[-1].type == "conversation_updated" and events[-1].data["title"] == "Title"  # then the title
    assert len({e.id.partition(":")[0] for e in events}) == 1  # one turn id on every event
    await state.chat.drain()  # the title is written after the answer: its call takes the second script
    waited = await send(redis_client, alice, conversation["id"], "again")
    assert waited.status_code == 201, waited.text
    assert waited.json()["assistant_message"]["text"] == "Second"
    bob = await register(redis_client, "bob@example.com", "Bob")
    refused = await send(redis_client, bob, conversation["id"], "hijack")
    assert refused.status_code == 404
