"""Follow a conversation's turn events, with ticks for heartbeats. Used by SSE and WebSocket.

The bus is read by a pump task feeding a queue, so a heartbeat timeout never cancels the bus read
itself. Whatever has queued up is taken in one go (:func:`follow_batches`): under load a transport
writes several events at once instead of waking up once per token. While listening, the channel is
touched at most once per ``TOUCH_INTERVAL``, also while events flow, so the runner knows somebody
still cares (a stream longer than the disconnect grace period must not look abandoned).
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


async def follow_batches(bus: EventBus, channel: str, after: str | None = None,
                         heartbeat_seconds: float = 15.0) -> AsyncIterator[list[tuple[str, Event]] | Heartbeat]:
    """Yield lists of (id, event) as they arrive (everything queued so far), or a Heartbeat when
    nothing came for ``heartbeat_seconds``; ends when the turn closes."""
    queue: asyncio.Queue[object] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for item in bus.subscribe(channel, after):
                queue.put_nowait(item)
        finally:
            queue.put_nowait(_END)

    task = asyncio.create_task(pump(), name=f"follow-{channel}")
    last_beat = last_touch = time.monotonic()
    try:
        await bus.touch(channel)
        while True:
            if queue.empty():
                try:
                    async with asyncio.timeout(TOUCH_INTERVAL):
                        item = await queue.get()
                except TimeoutError:
                    last_touch = time.monotonic()
                    await bus.touch(channel)
                    if last_touch - last_beat >= heartbeat_seconds:
                        last_beat = last_touch
                        yield Heartbeat()
                    continue
            else:
                item = queue.get_nowait()
            batch: list[tuple[str, Event]] = []
            while item is not _END:
                batch.append(item)  # type: ignore[arg-type]
                if queue.empty():
                    break
                item = queue.get_nowait()
            if batch:
                yield batch
            if item is _END:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
                return
            now = time.monotonic()
            last_beat = now
            if now - last_touch >= TOUCH_INTERVAL:
                last_touch = now
                await bus.touch(channel)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def follow(bus: EventBus, channel: str, after: str | None = None,
                 heartbeat_seconds: float = 15.0) -> AsyncIterator[tuple[str, Event] | Heartbeat]:
    """:func:`follow_batches`, one (id, event) at a time."""
    async for batch in follow_batches(bus, channel, after, heartbeat_seconds):
        if isinstance(batch, Heartbeat):
            yield batch
        else:
            for item in batch:
                yield item
