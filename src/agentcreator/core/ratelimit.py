"""Rate limiting, in-process by default and in Redis when several workers run: fixed windows
(``hit``) and attempt counters with exponential backoff (``attempt``), used to throttle sign-in."""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: int


@dataclass(frozen=True, slots=True)
class Backoff:
    """After ``free`` counted attempts, each further one must wait ``base * 2**(n - free)`` seconds
    (at most ``cap``) after the previous one; the count is forgotten ``memory`` seconds after the
    last attempt. A throttle, not a lock: waiting always lets the next attempt through."""

    free: int
    base: float
    cap: float
    memory: int

    def wait(self, count: int) -> float:
        over = count - self.free
        return 0.0 if over < 0 else min(self.cap, self.base * 2 ** min(over, 40))


class RateLimiter(ABC):
    @abstractmethod
    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        """Count one attempt against ``key``; refuse once ``limit`` is exceeded in the window."""

    @abstractmethod
    async def reset(self, key: str) -> None:
        """Forget the attempts for ``key`` (e.g. after a successful login)."""

    @abstractmethod
    async def attempt(self, key: str, policy: Backoff) -> RateDecision:
        """Count one attempt against ``key`` unless it comes before its backoff is over (then it
        is refused, and not counted). Atomic: concurrent attempts each see the previous one."""

    @abstractmethod
    async def forgive(self, key: str) -> None:
        """Take one attempt back (a successful sign-in does not count against its address)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass


def _refused(wait_until: float, now: float) -> RateDecision:
    return RateDecision(False, max(1, math.ceil(wait_until - now)))


class MemoryRateLimiter(RateLimiter):
    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._attempts: dict[str, tuple[int, float]] = {}
        self._max_keys = max_keys
        self._clock = clock

    async def attempt(self, key: str, policy: Backoff) -> RateDecision:
        now = self._clock()
        count, last = self._attempts.get(key, (0, 0.0))
        if now - last >= policy.memory:
            count = 0
        wait = policy.wait(count)
        if wait and now < last + wait:
            return _refused(last + wait, now)
        if len(self._attempts) >= self._max_keys and key not in self._attempts:
            stale = [k for k, (_, at) in self._attempts.items() if now - at >= policy.memory]
            for k in stale or list(self._attempts)[: len(self._attempts) // 10 or 1]:
                self._attempts.pop(k, None)
        self._attempts[key] = (count + 1, now)
        return RateDecision(True, 0)

    async def forgive(self, key: str) -> None:
        found = self._attempts.get(key)
        if found is not None:
            self._attempts[key] = (max(0, found[0] - 1), found[1])

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        now = time.monotonic()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window_seconds:
            start, count = now, 0
        count += 1
        if len(self._windows) >= self._max_keys and key not in self._windows:
            self._evict(now, window_seconds)
        self._windows[key] = (start, count)
        if count > limit:
            return RateDecision(False, max(1, int(window_seconds - (now - start)) + 1))
        return RateDecision(True, 0)

    def _evict(self, now: float, window_seconds: int) -> None:
        stale = [k for k, (start, _) in self._windows.items() if now - start >= window_seconds]
        for k in stale or list(self._windows)[: len(self._windows) // 10 or 1]:
            self._windows.pop(k, None)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)
        self._attempts.pop(key, None)


_HIT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('TTL', KEYS[1])}
"""


# KEYS[1]: a hash {n: attempts, t: time of the last}; ARGV: now, free, base, cap, memory.
_ATTEMPT_SCRIPT = """
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local t = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
local now = tonumber(ARGV[1])
local over = n - tonumber(ARGV[2])
if over >= 0 then
  local wait = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(over, 40))
  if now < t + wait then return {0, tostring(t + wait)} end
end
redis.call('HSET', KEYS[1], 'n', n + 1, 't', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, '0'}
"""
_FORGIVE_SCRIPT = """
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if n > 0 then redis.call('HSET', KEYS[1], 'n', n - 1) end
return n
"""


class RedisRateLimiter(RateLimiter):
    def __init__(self, redis: Redis, prefix: str = "agentcreator:rl:", clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_HIT_SCRIPT)
        self._attempt = redis.register_script(_ATTEMPT_SCRIPT)
        self._forgive = redis.register_script(_FORGIVE_SCRIPT)
        self._clock = clock

    async def attempt(self, key: str, policy: Backoff) -> RateDecision:
        now = self._clock()
        allowed, wait_until = await self._attempt(
            keys=[self._prefix + "attempts:" + key],
            args=[repr(now), policy.free, repr(policy.base), repr(policy.cap), policy.memory])
        return RateDecision(True, 0) if int(allowed) else _refused(float(wait_until), now)

    async def forgive(self, key: str) -> None:
        await self._forgive(keys=[self._prefix + "attempts:" + key])

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        count, ttl = await self._script(keys=[self._prefix + key], args=[window_seconds])
        if int(count) > limit:
            return RateDecision(False, max(1, int(ttl)))
        return RateDecision(True, 0)

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key, self._prefix + "attempts:" + key)
