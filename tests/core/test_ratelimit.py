"""The in-process and the Redis rate limiters (the latter against the real Redis, database 15)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from agentcreator.core import ratelimit
from agentcreator.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def test_memory_limiter_counts_and_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    limiter = MemoryRateLimiter()
    assert [(await limiter.hit("k", 3, 60)).allowed for _ in range(3)] == [True, True, True]
    refused = await limiter.hit("k", 3, 60)
    assert refused.allowed is False and refused.retry_after == 61
    now[0] += 30
    assert (await limiter.hit("k", 3, 60)).retry_after == 31
    assert (await limiter.hit("other", 3, 60)).allowed is True  # keys are independent
    now[0] += 31  # the window is over
    assert (await limiter.hit("k", 3, 60)).allowed is True


async def test_memory_limiter_reset() -> None:
    limiter = MemoryRateLimiter()
    for _ in range(2):
        await limiter.hit("k", 1, 60)
    assert (await limiter.hit("k", 1, 60)).allowed is False
    await limiter.reset("k")
    assert (await limiter.hit("k", 1, 60)).allowed is True
    await limiter.reset("never-seen")  # harmless


async def test_memory_limiter_bounds_its_memory() -> None:
    limiter = MemoryRateLimiter(max_keys=50)
    for i in range(500):
        await limiter.hit(f"key-{i}", 5, 60)
    assert len(limiter._windows) <= 50
    assert (await limiter.hit("key-499", 1, 60)).allowed is False  # the newest key was kept


@pytest.fixture
async def redis_limiter() -> AsyncIterator[tuple[RedisRateLimiter, Redis, str]]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as exc:
        await client.aclose()
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"redis unreachable: {exc}")
        pytest.skip(f"redis unreachable: {exc}")
    prefix = f"agentcreator-test:{uuid.uuid4().hex}:"
    try:
        yield RedisRateLimiter(client, prefix=prefix), client, prefix
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_redis_limiter_counts_refuses_and_expires(redis_limiter: tuple[RedisRateLimiter, Redis, str]) -> None:
    limiter, client, prefix = redis_limiter
    assert [(await limiter.hit("login", 2, 60)).allowed for _ in range(2)] == [True, True]
    refused = await limiter.hit("login", 2, 60)
    assert refused.allowed is False and 0 < refused.retry_after <= 60
    assert int(await client.get(prefix + "login")) == 3
    assert 0 < await client.ttl(prefix + "login") <= 60  # the window expires by itself
    assert (await limiter.hit("another", 2, 60)).allowed is True


async def test_redis_limiter_reset_and_window_end(redis_limiter: tuple[RedisRateLimiter, Redis, str]) -> None:
    limiter, client, prefix = redis_limiter
    await limiter.hit("k", 1, 60)
    assert (await limiter.hit("k", 1, 60)).allowed is False
    await limiter.reset("k")
    assert await client.exists(prefix + "k") == 0
    assert (await limiter.hit("k", 1, 60)).allowed is True
    await limiter.hit("short", 1, 1)
    assert (await limiter.hit("short", 1, 1)).allowed is False
    await asyncio.sleep(1.2)
    assert (await limiter.hit("short", 1, 1)).allowed is True


async def test_redis_limiter_is_atomic_under_concurrency(redis_limiter: tuple[RedisRateLimiter, Redis, str]) -> None:
    limiter, _, _ = redis_limiter
    decisions = await asyncio.gather(*(limiter.hit("burst", 10, 60) for _ in range(40)))
    assert sum(d.allowed for d in decisions) == 10


async def test_both_limiters_share_the_interface(redis_limiter: tuple[RedisRateLimiter, Redis, str]) -> None:
    limiters: list[RateLimiter] = [MemoryRateLimiter(), redis_limiter[0]]
    for limiter in limiters:
        results = [(await limiter.hit("same", 3, 30)).allowed for _ in range(5)]
        assert results == [True, True, True, False, False], type(limiter).__name__


async def test_redis_backoff_doubles_waits_and_forgives(redis_limiter: tuple[RedisRateLimiter, Redis, str]) -> None:
    _, client, prefix = redis_limiter
    now = [5000.0]
    limiter = RedisRateLimiter(client, prefix=prefix, clock=lambda: now[0])
    policy = ratelimit.Backoff(free=1, base=2.0, cap=5.0, memory=600)
    assert (await limiter.attempt("pair", policy)).allowed is True
    refused = await limiter.attempt("pair", policy)
    assert (refused.allowed, refused.retry_after) == (False, 2)
    now[0] += 2
    assert (await limiter.attempt("pair", policy)).allowed is True
    assert (await limiter.attempt("pair", policy)).retry_after == 4
    now[0] += 4
    assert (await limiter.attempt("pair", policy)).allowed is True
    assert (await limiter.attempt("pair", policy)).retry_after == 5  # capped
    assert 0 < await client.ttl(prefix + "attempts:pair") <= 600
    await limiter.forgive("pair")
    await limiter.forgive("pair")
    await limiter.forgive("pair")
    assert (await limiter.attempt("pair", policy)).allowed is True  # the three counted attempts were taken back
    assert (await limiter.attempt("pair", policy)).retry_after == 2
    await limiter.reset("pair")
    assert await client.exists(prefix + "attempts:pair") == 0
