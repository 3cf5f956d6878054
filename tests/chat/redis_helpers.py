"""A RedisEventBus on the real Redis (db 15) under a prefix of its own, its keys removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis

from agentcreator.chat.bus import RedisEventBus

REDIS_URL = "redis://127.0.0.1:6379/15"


@asynccontextmanager
async def open_redis_bus(redis: Redis) -> AsyncIterator[RedisEventBus]:
    """Skips the test when Redis is unreachable; closes ``redis`` at the end."""
    try:
        await redis.ping()
    except OSError as exc:
        await redis.aclose()
        pytest.skip(f"redis unreachable: {exc}")
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    bus = RedisEventBus(redis, retention_seconds=60, prefix=prefix)
    try:
        yield bus
    finally:
        await bus.aclose()
        keys = [k async for k in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
