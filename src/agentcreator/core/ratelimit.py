"""Fixed-window rate limiting, in-process by default and in Redis when several workers run."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: int


class RateLimiter(ABC):
    @abstractmethod
    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        """Count one attempt against ``key``; refuse once ``limit`` is exceeded in the window."""

    @abstractmethod
    async def reset(self, key: str) -> None:
        """Forget the attempts for ``key`` (e.g. after a successful login)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass


class MemoryRateLimiter(RateLimiter):
    def __init__(self, max_keys: int = 100_000) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._max_keys = max_keys

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


_HIT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('TTL', KEYS[1])}
"""


class RedisRateLimiter(RateLimiter):
    def __init__(self, redis: Redis, prefix: str = "agentcreator:rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_HIT_SCRIPT)

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        count, ttl = await self._script(keys=[self._prefix + key], args=[window_seconds])
        if int(count) > limit:
            return RateDecision(False, max(1, int(ttl)))
        return RateDecision(True, 0)

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)
