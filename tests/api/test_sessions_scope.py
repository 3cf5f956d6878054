"""A streaming answer must not hold a database connection while the model writes."""

from __future__ import annotations

import asyncio

import httpx

from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, sse_events
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script


async def test_no_pooled_connection_is_checked_out_while_an_answer_streams(
        live_client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble,
        app_state: AppState) -> None:
    openai_double.push(Script(text=["slow", " stream"], stall_after=1, stall_seconds=30))
    _, conversation = await make_chat(live_client, alice)
    pool = app_state.engine.sync_engine.pool
    baseline = pool.checkedout()
    async with live_client.stream("POST", f"/api/conversations/{conversation['id']}/messages",
                                  headers=alice.headers | {"Accept": "text/event-stream"},
                                  json={"content": "hi"}) as response:
        async for event in sse_events(response):
            if event.type == "text_delta":
                break
        await asyncio.sleep(0.1)  # the model is stalled mid-answer now
        assert pool.checkedout() == baseline, "a connection is held open across the model stream"
        async with live_client.stream("GET", f"/api/conversations/{conversation['id']}/events",
                                      headers=alice.headers) as resumed:  # a second listener, resuming
            async for event in sse_events(resumed):
                if event.type == "text_delta":
                    break
            await asyncio.sleep(0.1)
            assert pool.checkedout() == baseline, "following a turn must not hold a connection"
        await live_client.post(f"/api/conversations/{conversation['id']}/stop", headers=alice.headers)
