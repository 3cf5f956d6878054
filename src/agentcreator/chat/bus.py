"""The event bus that carries a running turn's events to every listener.

Each conversation is a channel holding the events of its current (or last) turn. Event ids are
``"<turn_id>:<position>"``: a client resuming with ``Last-Event-ID`` gets everything after that
position, or the whole turn when the id belongs to an earlier turn. A finished turn stays
replayable for ``retention`` seconds. In-process by default; Redis Streams when several workers run.

Listeners ``touch`` a channel while they read it; the runner stops a turn nobody has listened to
for the grace period. Stop requests travel through the bus too, so any worker can stop a turn.
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from agentcreator.chat.redis_fanout import RedisFanout

Event = dict[str, Any]
_CLOSE = "__closed__"
# A channel's "last listened" key outlives its last touch by this much (listeners touch every second);
# a running turn's keys are kept alive by its process's lease renewals (chat/leases.py), and a finished
# turn's expire after the replay retention.
LISTEN_TTL_SECONDS = 600


def parse_event_id(event_id: str | None) -> tuple[str | None, str | None]:
    if not event_id or ":" not in event_id:
        return None, None
    turn_id, _, position = event_id.partition(":")
    return turn_id, position


class EventBus(ABC):
    # How often a running turn's watchdog looks for stop requests sent through the bus by other
    # processes; None: none come (the in-process bus: its turns are stopped directly).
    stop_poll_seconds: float | None = 0.25
    # Set by a draining process (chat/drain.py): listeners end within a second, so that their clients
    # resume through another process (Last-Event-ID) and this one can exit.
    listeners_released = False

    def release_listeners(self) -> None:
        self.listeners_released = True

    @abstractmethod
    async def open(self, channel: str, turn_id: str) -> None:
        """Start a new turn on the channel, replacing the previous turn's events."""

    @abstractmethod
    async def publish(self, channel: str, event: Event) -> str:
        """Append an event to the channel's current turn; returns its id."""

    @abstractmethod
    async def close(self, channel: str, turn_id: str) -> None:
        """Mark the turn finished (if it is still the channel's current one): subscribers drain and stop."""

    @abstractmethod
    def batches(self, channel: str, after: str | None = None,
                idle_seconds: float = 1.0) -> AsyncIterator[list[tuple[str, Event]]]:
        """Yield lists of (id, event) of the channel's current turn after ``after`` (everything there
        is at each step, so a slow reader catches up in one go), and an empty list whenever nothing
        came for ``idle_seconds``; ends when the turn closes. Waiting never needs cancelling."""

    async def subscribe(self, channel: str, after: str | None = None) -> AsyncIterator[tuple[str, Event]]:
        """Yield (id, event) of the channel's current turn after ``after``, until the turn closes."""
        async for batch in self.batches(channel, after):
            for item in batch:
                yield item

    @abstractmethod
    async def touch(self, channel: str) -> None:
        """Record that a client is listening to the channel now."""

    @abstractmethod
    async def last_listened(self, channel: str) -> float | None:
        """Wall-clock time of the last ``touch`` on the channel, if any."""

    @abstractmethod
    async def request_stop(self, channel: str, turn_id: str) -> None: ...

    @abstractmethod
    async def stop_requested(self, channel: str, turn_id: str) -> bool: ...

    async def watch_state(self, channel: str, turn_id: str) -> tuple[bool, float | None]:
        """(stop requested for the turn, last listened) together: what a running turn's watchdog polls."""
        return await self.stop_requested(channel, turn_id), await self.last_listened(channel)

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    async def current_turn(self, channel: str) -> str | None:
        """The id of the channel's open turn (None: none, or it was closed)."""

    async def keep_alive(self, channels: list[str], ttl_seconds: int) -> None:  # noqa: B027 - optional hook
        """Running turns' channels: keep their stored events and keys for ``ttl_seconds`` more (so
        those of a process that died expire by themselves)."""

    async def end_turn(self, channel: str, turn_id: str, event: Event) -> bool:
        """Publish ``event`` as the last of ``turn_id`` and close it, if it is still the channel's open
        turn (a dead process's turn, finished elsewhere: chat/leases.py). False: it was not."""
        if await self.current_turn(channel) != turn_id:
            return False
        await self.publish(channel, event)
        await self.close(channel, turn_id)
        return True


@dataclass
class _Turn:
    turn_id: str
    events: list[tuple[str, Event]] = field(default_factory=list)
    closed: bool = False
    closed_at: float = 0.0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.TimerHandle | None = None  # a deferred wake-up for progress events (see publish)

    def wake_now(self) -> None:
        if self.wake is not None:
            self.wake.cancel()
            self.wake = None
        self.changed.set()


# Progress events of a run (its tool calls and steps) wake the listeners at most this late, with
# whatever follows them; text and the turn's end wake them at once. The relay of a progress event is a
# socket write that woke the client, and it used to run on the path from the model's tool call to the
# tool's request and from the tool's answer to the next model request: three writes, ~0.7 ms of a tool
# round (docs/performance.md, session 8). 5 ms later on screen is not something a reader can see.
PROGRESS_RELAY_DELAY_SECONDS = 0.005
PROGRESS_EVENTS = frozenset({"tool_call_started", "tool_call_delta", "tool_call_updated", "step_finished"})


class MemoryEventBus(EventBus):
    stop_poll_seconds = None

    def __init__(self, retention_seconds: float = 120.0) -> None:
        self._turns: dict[str, _Turn] = {}
        self._listened: dict[str, float] = {}
        self._stops: set[tuple[str, str]] = set()
        self._retention = retention_seconds
        self._next_gc = 0.0

    def _gc(self) -> None:
        """Forget finished turns past their retention: a sweep over every channel, so at most once a
        second (a turn start with hundreds of channels retained paid for the whole sweep each time)."""
        now = time.monotonic()
        if now < self._next_gc:
            return
        self._next_gc = now + min(1.0, self._retention)
        for channel, turn in list(self._turns.items()):
            if turn.closed and now - turn.closed_at > self._retention:
                del self._turns[channel]
                self._listened.pop(channel, None)

    async def open(self, channel: str, turn_id: str) -> None:
        self._gc()
        previous = self._turns.get(channel)
        if previous is not None and not previous.closed:
            previous.closed = True
            previous.wake_now()
        self._turns[channel] = _Turn(turn_id)
        self._listened[channel] = time.time()

    async def publish(self, channel: str, event: Event) -> str:
        turn = self._turns[channel]
        event_id = f"{turn.turn_id}:{len(turn.events) + 1}"
        turn.events.append((event_id, event))
        if event.get("type") not in PROGRESS_EVENTS:
            turn.wake_now()
        elif turn.wake is None and not turn.changed.is_set():
            turn.wake = asyncio.get_running_loop().call_later(PROGRESS_RELAY_DELAY_SECONDS, turn.wake_now)
        return event_id

    async def close(self, channel: str, turn_id: str) -> None:
        turn = self._turns.get(channel)
        if turn is not None and turn.turn_id == turn_id:
            turn.closed = True
            turn.closed_at = time.monotonic()
            turn.wake_now()
        self._stops = {s for s in self._stops if s[0] != channel}

    async def batches(self, channel: str, after: str | None = None,
                      idle_seconds: float = 1.0) -> AsyncIterator[list[tuple[str, Event]]]:
        turn = self._turns.get(channel)
        if turn is None:
            return
        after_turn, after_pos = parse_event_id(after)
        index = int(after_pos) if after_turn == turn.turn_id and after_pos and after_pos.isdigit() else 0
        while not self.listeners_released:
            if index < len(turn.events):
                batch = turn.events[index:]
                index += len(batch)
                yield batch
                continue
            if turn.closed:
                return
            turn.changed.clear()  # nothing can be published between the check above and the wait
            try:
                async with asyncio.timeout(idle_seconds):
                    await turn.changed.wait()
            except TimeoutError:
                yield []

    async def touch(self, channel: str) -> None:
        self._listened[channel] = time.time()

    async def last_listened(self, channel: str) -> float | None:
        return self._listened.get(channel)

    async def request_stop(self, channel: str, turn_id: str) -> None:
        self._stops.add((channel, turn_id))

    async def current_turn(self, channel: str) -> str | None:
        turn = self._turns.get(channel)
        return turn.turn_id if turn is not None and not turn.closed else None

    async def stop_requested(self, channel: str, turn_id: str) -> bool:
        return (channel, turn_id) in self._stops


class RedisEventBus(EventBus):
    """Redis Streams: one stream per conversation channel, trimmed and expired after the turn."""

    def __init__(self, redis: Redis, retention_seconds: float = 120.0, prefix: str = "agentcreator:") -> None:
        self._redis = redis
        self._retention = max(1, int(retention_seconds))
        self._prefix = prefix
        # Turns opened by this process: publish needs no GET per event (one round trip per token).
        self._opened: dict[str, str] = {}
        self._fanout = RedisFanout(redis, prefix)  # one XREAD for all of this process's listeners

    def _key(self, kind: str, channel: str) -> str:
        return f"{self._prefix}{kind}:{channel}"

    async def open(self, channel: str, turn_id: str) -> None:
        stream = self._key("turn", channel)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(stream)
            pipe.set(self._key("turnid", channel), turn_id, ex=86400)
            pipe.set(self._key("listen", channel), time.time(), ex=LISTEN_TTL_SECONDS)
            await pipe.execute()
        self._opened[channel] = turn_id

    async def _turn_id(self, channel: str) -> str | None:
        raw = await self._redis.get(self._key("turnid", channel))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def publish(self, channel: str, event: Event) -> str:
        turn_id = self._opened.get(channel) or await self._turn_id(channel)
        stream_id = await self._redis.xadd(self._key("turn", channel), {"e": json.dumps(event)}, maxlen=100_000)
        sid = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
        return f"{turn_id}:{sid}"

    async def close(self, channel: str, turn_id: str) -> None:
        if self._opened.get(channel) == turn_id:
            del self._opened[channel]
        if await self._turn_id(channel) != turn_id:
            return
        stream = self._key("turn", channel)
        await self._redis.xadd(stream, {"e": json.dumps({"type": _CLOSE})})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.expire(stream, self._retention)
            pipe.expire(self._key("turnid", channel), self._retention)
            pipe.expire(self._key("listen", channel), self._retention)
            pipe.delete(self._key("stop", channel))
            await pipe.execute()

    async def batches(self, channel: str, after: str | None = None,
                      idle_seconds: float = 1.0) -> AsyncIterator[list[tuple[str, Event]]]:
        turn_id = await self._turn_id(channel)
        if turn_id is None:
            return
        after_turn, after_pos = parse_event_id(after)
        cursor = after_pos if after_turn == turn_id and after_pos else "0"
        stream = self._key("turn", channel)
        follower, pending = await self._fanout.follow(stream, cursor)
        try:
            while not self.listeners_released:
                if not pending and not follower.inbox:
                    try:
                        async with asyncio.timeout(idle_seconds):
                            await follower.arrived.wait()
                    except TimeoutError:
                        if await self._redis.exists(stream) == 0 and await self._turn_id(channel) != turn_id:
                            return
                        yield []
                        continue
                pending = pending + follower.take()
                batch: list[tuple[str, Event]] = []
                for sid, event in pending:
                    if event.get("type") == _CLOSE:
                        if batch:
                            yield batch
                        return
                    batch.append((f"{turn_id}:{sid}", event))
                pending = []
                yield batch
        finally:
            self._fanout.unfollow(stream, follower)

    async def aclose(self) -> None:
        await self._fanout.aclose()

    async def current_turn(self, channel: str) -> str | None:
        turn_id = await self._turn_id(channel)
        if turn_id is None:
            return None
        # A closed turn's stream ends with the close marker.
        last = await self._redis.xrevrange(self._key("turn", channel), count=1)
        if last and json.loads(last[0][1].get(b"e") or last[0][1].get("e")).get("type") == _CLOSE:
            return None
        return turn_id

    async def keep_alive(self, channels: list[str], ttl_seconds: int) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel in channels:
                for kind in ("turn", "turnid", "listen"):
                    pipe.expire(self._key(kind, channel), ttl_seconds)
            await pipe.execute()

    async def touch(self, channel: str) -> None:
        await self._redis.set(self._key("listen", channel), time.time(), ex=LISTEN_TTL_SECONDS)

    async def last_listened(self, channel: str) -> float | None:
        raw = await self._redis.get(self._key("listen", channel))
        return float(raw) if raw is not None else None

    async def request_stop(self, channel: str, turn_id: str) -> None:
        await self._redis.set(self._key("stop", channel), turn_id, ex=3600)

    async def watch_state(self, channel: str, turn_id: str) -> tuple[bool, float | None]:
        stop, listened = await self._redis.mget(self._key("stop", channel), self._key("listen", channel))
        stop = stop.decode() if isinstance(stop, bytes) else stop
        return stop == turn_id, float(listened) if listened is not None else None

    async def stop_requested(self, channel: str, turn_id: str) -> bool:
        raw = await self._redis.get(self._key("stop", channel))
        value = raw.decode() if isinstance(raw, bytes) else raw
        return value == turn_id
