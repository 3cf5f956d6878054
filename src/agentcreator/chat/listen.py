"""Follow a conversation's turn events, with ticks for heartbeats. Used by SSE and WebSocket.

The bus hands over everything that queued up at once (``EventBus.batches``): under load a transport
writes several events in one go instead of waking up once per token, and no task or queue sits
between the bus and the transport. While listening, the channel is touched at most once per
``TOUCH_INTERVAL``, also while events flow, so the runner knows somebody still cares (a stream
longer than the disconnect grace period must not look abandoned).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from agentcreator.chat.bus import Event, EventBus

TOUCH_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


async def follow_batches(bus: EventBus, channel: str, after: str | None = None,
                         heartbeat_seconds: float = 15.0) -> AsyncIterator[list[tuple[str, Event]] | Heartbeat]:
    """Yield lists of (id, event) as they arrive (everything queued so far), or a Heartbeat when
    nothing came for ``heartbeat_seconds``; ends when the turn closes."""
    await bus.touch(channel)
    last_touch = last_beat = time.monotonic()
    async for batch in bus.batches(channel, after, idle_seconds=min(TOUCH_INTERVAL, heartbeat_seconds)):
        now = time.monotonic()
        if now - last_touch >= TOUCH_INTERVAL:
            last_touch = now
            await bus.touch(channel)
        if batch:
            last_beat = now
            yield batch
        elif now - last_beat >= heartbeat_seconds:
            last_beat = now
            yield Heartbeat()


async def follow(bus: EventBus, channel: str, after: str | None = None,
                 heartbeat_seconds: float = 15.0) -> AsyncIterator[tuple[str, Event] | Heartbeat]:
    """:func:`follow_batches`, one (id, event) at a time."""
    async for batch in follow_batches(bus, channel, after, heartbeat_seconds):
        if isinstance(batch, Heartbeat):
            yield batch
        else:
            for item in batch:
                yield item
