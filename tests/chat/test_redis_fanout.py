"""Listeners on the Redis bus share one reader per process (chat/redis_fanout.py), on the real Redis:
each still gets exactly its events, in order, whatever it joined at; the connections in use do
not grow with the number of listeners."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from agentcreator.chat.bus import RedisEventBus
from tests.chat.redis_helpers import REDIS_URL, open_redis_bus


@pytest.fixture
async def redis_bus() -> AsyncIterator[tuple[RedisEventBus, BlockingConnectionPool]]:
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=200, timeout=5)
    async with open_redis_bus(Redis(connection_pool=pool)) as bus:
        yield bus, pool


async def _collect(bus: RedisEventBus, channel: str, after: str | None = None) -> list[tuple[str, dict]]:
    return [item async for item in bus.subscribe(channel, after)]


async def test_forty_listeners_each_get_their_turn_and_hold_no_connection_while_waiting(
        redis_bus: tuple[RedisEventBus, BlockingConnectionPool]) -> None:
    bus, pool = redis_bus
    channels = [f"c{i}" for i in range(40)]
    for channel in channels:
        await bus.open(channel, f"turn-{channel}")
        await bus.publish(channel, {"type": "text_delta", "n": 0})
    readers = [asyncio.create_task(_collect(bus, channel)) for channel in channels]
    await asyncio.sleep(0.3)  # every listener caught up and waits for more
    assert len(pool._in_use_connections) <= 2  # the shared reader (and perhaps a wake-up), not 40
    for n in (1, 2):
        for channel in channels:
            await bus.publish(channel, {"type": "text_delta", "n": n, "channel": channel})
    for channel in channels:
        await bus.close(channel, f"turn-{channel}")
    results = await asyncio.wait_for(asyncio.gather(*readers), timeout=10)
    for channel, items in zip(channels, results, strict=True):
        assert [event["n"] for _, event in items] == [0, 1, 2]
        assert all(event.get("channel", channel) == channel for _, event in items)
        assert all(event_id.startswith(f"turn-{channel}:") for event_id, _ in items)


async def test_a_listener_joining_late_or_resuming_gets_each_event_once(
        redis_bus: tuple[RedisEventBus, BlockingConnectionPool]) -> None:
    bus, _ = redis_bus
    await bus.open("c", "t")
    first = asyncio.create_task(_collect(bus, "c"))
    ids = [await bus.publish("c", {"type": "text_delta", "n": n}) for n in range(5)]
    await asyncio.sleep(0.2)  # the shared reader is past all five
    resumed = asyncio.create_task(_collect(bus, "c", after=ids[1]))
    late = asyncio.create_task(_collect(bus, "c"))
    await asyncio.sleep(0.2)
    for n in range(5, 8):
        await bus.publish("c", {"type": "text_delta", "n": n})
    await bus.close("c", "t")
    got = await asyncio.wait_for(asyncio.gather(first, resumed, late), timeout=10)
    assert [[event["n"] for _, event in items] for items in got] == [
        list(range(8)), list(range(2, 8)), list(range(8))]


async def test_the_reader_stops_when_nobody_listens_and_starts_again(
        redis_bus: tuple[RedisEventBus, BlockingConnectionPool]) -> None:
    bus, _ = redis_bus
    for turn in ("t1", "t2"):
        await bus.open("c", turn)
        reader = asyncio.create_task(_collect(bus, "c"))
        await asyncio.sleep(0.1)
        await bus.publish("c", {"type": "text_delta", "turn": turn})
        await bus.close("c", turn)
        items = await asyncio.wait_for(reader, timeout=10)
        assert [event["turn"] for _, event in items] == [turn]
        assert bus._fanout._streams == {}  # nobody follows the stream any more
