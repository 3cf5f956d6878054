"""Follow a conversation's turn events, with ticks for heartbeats. Used by SSE and WebSocket.

The bus is read by a pump task feeding a queue, so a heartbeat timeout never cancels the bus read
itself. While listening, the channel is touched so the runner knows somebody still cares.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from agentcreator.chat.bus import Event, EventBus

TOUCH_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


_END = object()


async def follow(bus: EventBus, channel: str, after: str | None = None,
                 heartbeat_seconds: float = 15.0) -> AsyncIterator[tuple[str, Event] | Heartbeat]:
    queue: asyncio.Queue[object] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for item in bus.subscribe(channel, after):
                await queue.put(item)
        finally:
            await queue.put(_END)

    task = asyncio.create_task(pump(), name=f"follow-{channel}")
    last_beat = time.monotonic()
    try:
        await bus.touch(channel)
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=TOUCH_INTERVAL)
            except TimeoutError:
                await bus.touch(channel)
                if time.monotonic() - last_beat >= heartbeat_seconds:
                    last_beat = time.monotonic()
                    yield Heartbeat()
                continue
            if item is _END:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
                return
            yield item  # type: ignore[misc]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
