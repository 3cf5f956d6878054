"""One Redis reader per process for every turn stream its listeners follow.

Without it each listener (an SSE response, a WebSocket subscription) ran its own blocking ``XREAD``
on its own pooled connection: at 200 streams per worker, 200 connections blocked in Redis and 200
round trips per relayed batch. Here one task runs ``XREAD BLOCK`` over all followed streams at once
and hands every listener what arrived; each entry is decoded once. A listener catches up on its own
(one non-blocking read from its cursor) and then joins at the reader's position: what lies between
the two is read once more, what the reader delivers twice is skipped by id, so nothing is lost or
repeated. A per-process wake-up stream interrupts the blocking read when a new stream is followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

log = logging.getLogger(__name__)
Entry = tuple[str, dict[str, Any]]  # (stream id, decoded event)
BLOCK_MS = 5_000
COUNT = 500


def _sid(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _newer(a: str, b: str) -> bool:
    """Stream id ``a`` comes after ``b`` ("0" sorts first)."""
    ams, _, aseq = a.partition("-")
    bms, _, bseq = b.partition("-")
    return (int(ams), int(aseq or 0)) > (int(bms), int(bseq or 0))


def decode(entries: Iterable[Any]) -> list[Entry]:
    out: list[Entry] = []
    for sid_raw, fields in entries:
        payload = fields.get(b"e") or fields.get("e")
        out.append((_sid(sid_raw), json.loads(payload)))
    return out


@dataclass(eq=False)
class Follower:
    """One listener's inbox: entries after ``cursor``, in order."""

    cursor: str
    inbox: list[Entry] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def deliver(self, entries: list[Entry]) -> None:
        fresh = [entry for entry in entries if _newer(entry[0], self.cursor)]
        if fresh:
            self.cursor = fresh[-1][0]
            self.inbox.extend(fresh)
            self.arrived.set()

    def take(self) -> list[Entry]:
        entries, self.inbox = self.inbox, []
        self.arrived.clear()
        return entries


@dataclass
class _Stream:
    cursor: str
    followers: set[Follower] = field(default_factory=set)


class RedisFanout:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._wake = f"{prefix}wake:{uuid.uuid4().hex}"
        self._wake_cursor = "0"
        self._streams: dict[str, _Stream] = {}
        self._task: asyncio.Task[None] | None = None

    async def follow(self, stream: str, cursor: str) -> tuple[Follower, list[Entry]]:
        """Catch up from ``cursor`` and join the reader. Returns the follower and what it caught up on
        (the follower's inbox then continues from there)."""
        caught = await self._read_after(stream, cursor)
        follower = Follower(caught[-1][0] if caught else cursor)
        tracked = self._streams.get(stream)
        if tracked is None:
            self._streams[stream] = _Stream(follower.cursor, {follower})
            await self._start_or_wake()
        else:
            tracked.followers.add(follower)
            reader_at = tracked.cursor
            if _newer(reader_at, follower.cursor):  # the reader is ahead: read the gap once more
                gap = [e for e in await self._read_after(stream, follower.cursor) if not _newer(e[0], reader_at)]
                caught += gap
                if gap:
                    follower.cursor = gap[-1][0]
        return follower, caught

    def unfollow(self, stream: str, follower: Follower) -> None:
        tracked = self._streams.get(stream)
        if tracked is not None:
            tracked.followers.discard(follower)
            if not tracked.followers:
                del self._streams[stream]

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self._redis.delete(self._wake)

    async def _read_after(self, stream: str, cursor: str) -> list[Entry]:
        out: list[Entry] = []
        while True:
            reply = await self._redis.xread({stream: cursor}, count=COUNT)
            if not reply:
                return out
            entries = decode(reply[0][1])
            out += entries
            cursor = entries[-1][0]
            if len(entries) < COUNT:
                return out

    async def _start_or_wake(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="redis-fanout")
        else:  # interrupt the blocking read so that it includes the new stream
            await self._redis.xadd(self._wake, {"w": "1"}, maxlen=16, approximate=True)

    async def _run(self) -> None:
        while self._streams:
            keys = {self._wake: self._wake_cursor, **{key: s.cursor for key, s in self._streams.items()}}
            try:
                reply = await self._redis.xread(keys, block=BLOCK_MS, count=COUNT)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away for a moment: followers see no events, then retry
                log.warning("reading turn streams from Redis failed; retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            for key_raw, raw_entries in reply or ():
                key = _sid(key_raw)
                if key == self._wake:
                    self._wake_cursor = _sid(raw_entries[-1][0])
                    continue
                tracked = self._streams.get(key)
                if tracked is None or not raw_entries:
                    continue
                entries = decode(raw_entries)
                tracked.cursor = entries[-1][0]
                for follower in list(tracked.followers):
                    follower.deliver(entries)
