"""Fair use of a shared server: per user, at most ``max_concurrent_turns`` answers running at once and
``turns_per_minute`` turns started per minute (send, regenerate and edit each start one). Over a
limit the caller gets 429 with ``Retry-After`` and a message that says which limit and when to retry.

Administrators change both limits at ``PATCH /api/admin/settings``; the defaults come from
``FAIR_USE__*``. Running turns are counted in-process, or in Redis when several workers share it
(a Redis hash per user, one field per running turn with a lease, so a crashed worker's turns stop
counting after ``FAIR_USE__SLOT_LEASE_SECONDS``). docs/security.md.

Wiring: ``AppState.fair_use``; the chat routes (api/routes/chat.py) and the WebSocket (api/ws.py)
call ``admit`` before the chat service starts a turn, then ``hold`` the admission until the started
turn's ``finished`` event (or ``release`` it when the start fails).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.core.config import FairUseSettings
from agentcreator.core.errors import RateLimited
from agentcreator.core.ratelimit import RateLimiter
from agentcreator.db.session import session_scope
from agentcreator.repositories import platform_settings as settings_repo


@dataclass(frozen=True, slots=True)
class FairUseLimits:
    max_concurrent_turns: int
    turns_per_minute: int
    uploads_per_minute: int


class TurnSlots(ABC):
    @abstractmethod
    async def take(self, user_id: str, slot: str, limit: int) -> bool:
        """Count ``slot`` as one of the user's running turns unless ``limit`` are running already."""

    @abstractmethod
    async def give_back(self, user_id: str, slot: str) -> None: ...


class MemoryTurnSlots(TurnSlots):
    def __init__(self) -> None:
        self._running: dict[str, set[str]] = {}

    async def take(self, user_id: str, slot: str, limit: int) -> bool:
        running = self._running.setdefault(user_id, set())
        if len(running) >= limit:
            return False
        running.add(slot)
        return True

    async def give_back(self, user_id: str, slot: str) -> None:
        running = self._running.get(user_id)
        if running is not None:
            running.discard(slot)
            if not running:
                del self._running[user_id]


# KEYS[1]: hash slot -> lease end; ARGV: now, slot, limit, lease seconds.
_TAKE = """
local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local live = 0
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) <= now then redis.call('HDEL', KEYS[1], all[i]) else live = live + 1 end
end
if live >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], now + tonumber(ARGV[4]))
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[4])))
return 1
"""


class RedisTurnSlots(TurnSlots):
    def __init__(self, redis: Redis, lease_seconds: float, prefix: str = "agentcreator:fairuse:") -> None:
        self._redis = redis
        self._lease = lease_seconds
        self._prefix = prefix
        self._take = redis.register_script(_TAKE)

    async def take(self, user_id: str, slot: str, limit: int) -> bool:
        taken = await self._take(keys=[self._prefix + user_id], args=[repr(time.time()), slot, limit, self._lease])
        return bool(int(taken))

    async def give_back(self, user_id: str, slot: str) -> None:
        await self._redis.hdel(self._prefix + user_id, slot)


@dataclass(slots=True)
class Admission:
    """A turn let in: ``hold`` it until the turn finishes, or ``release`` it if the turn never started."""

    fair_use: FairUse
    user_id: str
    slot: str
    released: bool = False

    async def release(self) -> None:
        if not self.released:
            self.released = True
            await self.fair_use.slots.give_back(self.user_id, self.slot)

    def hold(self, finished: asyncio.Event) -> None:
        async def wait_then_release() -> None:
            try:
                await finished.wait()
            finally:
                await self.release()

        task = asyncio.create_task(wait_then_release())
        self.fair_use.holding.add(task)
        task.add_done_callback(self.fair_use.holding.discard)


class FairUse:
    CACHE_SECONDS = 5.0  # how soon an administrator's change reaches every worker

    def __init__(self, sessions: async_sessionmaker[AsyncSession], slots: TurnSlots,
                 defaults: FairUseSettings) -> None:
        self.sessions = sessions
        self.slots = slots
        self.defaults = defaults
        self.holding: set[asyncio.Task[None]] = set()
        self._cached: tuple[float, FairUseLimits] | None = None

    def invalidate(self) -> None:
        self._cached = None

    async def limits(self) -> FairUseLimits:
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self.CACHE_SECONDS:
            return self._cached[1]
        async with session_scope(self.sessions) as session:
            limits = await load_limits(session, self.defaults)
        self._cached = (now, limits)
        return limits

    async def admit(self, user_id: str, rate_limiter: RateLimiter) -> Admission:
        """Let a new turn of ``user_id`` in, or raise RateLimited (429 with Retry-After)."""
        limits = await self.limits()
        slot = uuid.uuid4().hex
        if not await self.slots.take(user_id, slot, limits.max_concurrent_turns):
            raise RateLimited(
                f"You already have {limits.max_concurrent_turns} answers running; wait for one to finish "
                "(or stop one) before starting another", retry_after=5, code="too_many_running_turns",
                details={"limit": limits.max_concurrent_turns})
        decision = await rate_limiter.hit(f"turns:{user_id}", limits.turns_per_minute, 60)
        if not decision.allowed:
            await self.slots.give_back(user_id, slot)
            raise RateLimited(
                f"You can start {limits.turns_per_minute} answers per minute; try again in "
                f"{decision.retry_after} seconds", retry_after=decision.retry_after,
                code="too_many_turns", details={"limit": limits.turns_per_minute})
        return Admission(self, user_id, slot)


async def admit_upload(fair_use: FairUse, rate_limiter: RateLimiter, user_id: str) -> None:
    """Count an upload of ``user_id`` (before its body is read), or raise RateLimited (429)."""
    limits = await fair_use.limits()
    decision = await rate_limiter.hit(f"uploads:{user_id}", limits.uploads_per_minute, 60)
    if not decision.allowed:
        raise RateLimited(
            f"You can upload {limits.uploads_per_minute} files per minute; try again in "
            f"{decision.retry_after} seconds", retry_after=decision.retry_after,
            code="too_many_uploads", details={"limit": limits.uploads_per_minute})


async def admit_export(fair_use: FairUse, rate_limiter: RateLimiter, user_id: str) -> None:
    """Count a conversation export of ``user_id``, or raise RateLimited (429). The limit is a setting
    (``FAIR_USE__EXPORTS_PER_MINUTE``), not one of the limits administrators edit in the app."""
    limit = fair_use.defaults.exports_per_minute
    decision = await rate_limiter.hit(f"exports:{user_id}", limit, 60)
    if not decision.allowed:
        raise RateLimited(
            f"You can export {limit} conversations per minute; try again in {decision.retry_after} seconds",
            retry_after=decision.retry_after, code="too_many_exports", details={"limit": limit})


FAIR_USE_KEY = "fair_use"


async def load_limits(session: AsyncSession, defaults: FairUseSettings) -> FairUseLimits:
    saved = await settings_repo.get(session, FAIR_USE_KEY) or {}
    return FairUseLimits(
        max_concurrent_turns=int(saved.get("max_concurrent_turns", defaults.max_concurrent_turns)),
        turns_per_minute=int(saved.get("turns_per_minute", defaults.turns_per_minute)),
        uploads_per_minute=int(saved.get("uploads_per_minute", defaults.uploads_per_minute)))


async def save_limits(session: AsyncSession, defaults: FairUseSettings, *, max_concurrent_turns: int | None,
                      turns_per_minute: int | None, uploads_per_minute: int | None = None) -> FairUseLimits:
    current = await load_limits(session, defaults)
    updated = FairUseLimits(
        max_concurrent_turns if max_concurrent_turns is not None else current.max_concurrent_turns,
        turns_per_minute if turns_per_minute is not None else current.turns_per_minute,
        uploads_per_minute if uploads_per_minute is not None else current.uploads_per_minute)
    await settings_repo.put(session, FAIR_USE_KEY, {"max_concurrent_turns": updated.max_concurrent_turns,
                                                    "turns_per_minute": updated.turns_per_minute,
                                                    "uploads_per_minute": updated.uploads_per_minute})
    return updated


class _HasTurn(Protocol):
    @property
    def turn(self) -> _Finishes: ...


class _Finishes(Protocol):
    @property
    def finished(self) -> asyncio.Event: ...


Started = TypeVar("Started", bound=_HasTurn)


async def admitted(fair_use: FairUse, rate_limiter: RateLimiter, user_id: str,
                   start: Callable[[], Awaitable[Started]]) -> Started:
    """Run ``start`` (the chat service starting a turn) within the user's limits: the turn counts as
    running until its ``finished`` event; a start that fails gives its place back at once."""
    admission = await fair_use.admit(user_id, rate_limiter)
    try:
        started = await start()
    except BaseException:
        await admission.release()
        raise
    admission.hold(started.turn.finished)
    return started
