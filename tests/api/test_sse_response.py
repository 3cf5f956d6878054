"""EventStreamResponse: a client that goes away ends the stream quietly (the generator is closed); a
cancellation from elsewhere (server shutdown) still propagates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentcreator.api.sse import EventStreamResponse

SCOPE = {"type": "http", "method": "POST", "path": "/x", "headers": []}


class Client:
    def __init__(self, wait_for: int) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gone = asyncio.Event()
        self.wait_for, self.enough = wait_for, asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if len(self.sent) >= self.wait_for:
            self.enough.set()


def endless(closed: list[bool]) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"data: tick\n\n"
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)
    return gen()


async def test_a_client_going_away_ends_the_stream_quietly() -> None:
    client, closed = Client(wait_for=3), []
    response = EventStreamResponse(endless(closed), media_type="text/event-stream")
    serving = asyncio.create_task(response(SCOPE, client.receive, client.send))
    await asyncio.wait_for(client.enough.wait(), timeout=5)
    client.gone.set()
    await asyncio.wait_for(serving, timeout=5)  # returns normally: no CancelledError leaks out
    assert not serving.cancelled() and serving.exception() is None
    assert closed == [True]
    assert client.sent[0]["type"] == "http.response.start"


async def test_a_cancellation_from_elsewhere_still_propagates() -> None:
    client, closed = Client(wait_for=2), []
    response = EventStreamResponse(endless(closed), media_type="text/event-stream")
    serving = asyncio.create_task(response(SCOPE, client.receive, client.send))
    await asyncio.wait_for(client.enough.wait(), timeout=5)
    serving.cancel()  # e.g. the server shutting down
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert closed == [True]
