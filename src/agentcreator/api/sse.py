"""Server-Sent Events encoding of turn events: ``id:`` on every event (resume with Last-Event-ID),
comment heartbeats, and headers that stop proxies from buffering. Events that queued up while the
connection was busy go out in one write (each still its own SSE event)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from agentcreator.chat.bus import EventBus
from agentcreator.chat.listen import Heartbeat, follow_batches

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def encode(event_id: str, event: dict[str, object]) -> bytes:
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event_id}\nevent: {event['type']}\ndata: {data}\n\n".encode()


async def _stream(bus: EventBus, channel: str, after: str | None, heartbeat: float) -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"
    async for batch in follow_batches(bus, channel, after, heartbeat):
        if isinstance(batch, Heartbeat):
            yield b": ping\n\n"
        elif len(batch) == 1:
            yield encode(*batch[0])
        else:
            yield b"".join(encode(event_id, event) for event_id, event in batch)


class EventStreamResponse(StreamingResponse):
    """A StreamingResponse without Starlette's anyio task group per response (for ASGI servers below
    spec 2.4, as uvicorn is): the stream is written from the request's own task while one plain
    asyncio task waits for the client to go away and then cancels it. Same behaviour, a fraction of
    the work per chat turn (docs/performance.md)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.current_task()
        if scope["type"] != "http" or streaming is None:
            await super().__call__(scope, receive, send)
            return

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            streaming.cancel()

        watcher = asyncio.create_task(watch())
        try:
            await self.stream_response(send)
            if watcher.done() and not watcher.cancelled():
                # The client left during the last write: take delivery of the watcher's cancellation
                # here rather than at the server's next await.
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            if not watcher.done() or watcher.cancelled():
                raise  # cancelled from elsewhere (shutdown): not ours to swallow
            streaming.uncancel()  # the client went away: the response just ends
        finally:
            watcher.cancel()


def sse_response(bus: EventBus, channel: str, after: str | None, heartbeat: float,
                 status_code: int = 200) -> StreamingResponse:
    return EventStreamResponse(_stream(bus, channel, after, heartbeat), status_code=status_code,
                               media_type="text/event-stream", headers=SSE_HEADERS)
