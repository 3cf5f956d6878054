"""The event bus, in-process and on the real Redis: ordering, resume, close, stop requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from agentcreator.chat.bus import EventBus, MemoryEventBus
from tests.chat.redis_helpers import REDIS_URL, open_redis_bus


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    if request.param == "memory":
        yield MemoryEventBus(retention_seconds=60)
        return
    async with open_redis_bus(Redis.from_url(REDIS_URL)) as redis_bus:
        yield redis_bus


async def collect(bus: EventBus, channel: str, after: str | None = None) -> list[tuple[str, dict]]:
    return [item async for item in bus.subscribe(channel, after)]


async def test_subscriber_gets_events_in_order_until_close(bus: EventBus) -> None:
    await bus.open("c1", "turnA")
    reader = asyncio.create_task(collect(bus, "c1"))
    for n in range(5):
        await bus.publish("c1", {"type": "text_delta", "n": n})
    await bus.close("c1", "turnA")
    items = await asyncio.wait_for(reader, timeout=5)
    assert [event["n"] for _, event in items] == [0, 1, 2, 3, 4]
    assert all(event_id.startswith("turnA:") for event_id, _ in items)


async def test_resume_after_an_event_id_returns_only_the_rest(bus: EventBus) -> None:
    await bus.open("c2", "turnB")
    ids = [await bus.publish("c2", {"type": "text_delta", "n": n}) for n in range(4)]
    await bus.close("c2", "turnB")
    rest = await asyncio.wait_for(collect(bus, "c2", after=ids[1]), timeout=5)
    assert [event["n"] for _, event in rest] == [2, 3]


async def test_an_id_from_an_earlier_turn_replays_the_whole_current_turn(bus: EventBus) -> None:
    await bus.open("c3", "old")
    old_id = await bus.publish("c3", {"type": "text_delta", "n": 0})
    await bus.close("c3", "old")
    await bus.open("c3", "new")
    await bus.publish("c3", {"type": "text_delta", "n": 10})
    await bus.publish("c3", {"type": "text_delta", "n": 11})
    await bus.close("c3", "new")
    items = await asyncio.wait_for(collect(bus, "c3", after=old_id), timeout=5)
    assert [event["n"] for _, event in items] == [10, 11]


async def test_closing_a_replaced_turn_does_not_close_the_new_one(bus: EventBus) -> None:
    await bus.open("c4", "first")
    await bus.open("c4", "second")
    await bus.close("c4", "first")  # late close from the previous turn
    reader = asyncio.create_task(collect(bus, "c4"))
    await asyncio.sleep(0.05)
    await bus.publish("c4", {"type": "text_delta", "n": 1})
    await asyncio.sleep(0.05)
    assert not reader.done(), "the new turn must still be open"
    await bus.close("c4", "second")
    items = await asyncio.wait_for(reader, timeout=5)
    assert [event["n"] for _, event in items] == [1]


async def test_stop_requests_are_per_turn(bus: EventBus) -> None:
    await bus.open("c5", "t1")
    assert not await bus.stop_requested("c5", "t1")
    await bus.request_stop("c5", "t1")
    assert await bus.stop_requested("c5", "t1")
    assert not await bus.stop_requested("c5", "t2")


async def test_watch_state_reads_the_stop_and_the_listening_time_together(bus: EventBus) -> None:
    assert await bus.watch_state("c7", "t1") == (False, None)
    await bus.open("c7", "t1")
    await bus.touch("c7")
    listened = await bus.last_listened("c7")
    assert await bus.watch_state("c7", "t1") == (False, listened)
    await bus.request_stop("c7", "t1")
    assert await bus.watch_state("c7", "t1") == (True, listened)
    assert await bus.watch_state("c7", "t2") == (False, listened)  # a stop belongs to its turn


async def test_touch_records_listening_time(bus: EventBus) -> None:
    await bus.open("c6", "t")
    first = await bus.last_listened("c6")
    await asyncio.sleep(0.01)
    await bus.touch("c6")
    second = await bus.last_listened("c6")
    assert first is not None and second is not None and second > first


async def test_unknown_channel_yields_nothing(bus: EventBus) -> None:
    assert await asyncio.wait_for(collect(bus, "nope"), timeout=5) == []


async def test_a_finished_turn_is_forgotten_after_its_retention() -> None:
    bus = MemoryEventBus(retention_seconds=0.05)
    await bus.open("a", "t1")
    await bus.publish("a", {"type": "text_delta", "text": "x"})
    await bus.close("a", "t1")
    await bus.open("b", "t2")  # swept now: "a" is still within its retention
    assert [e async for _, e in bus.subscribe("a")] == [{"type": "text_delta", "text": "x"}]
    await asyncio.sleep(0.12)  # past the retention and the sweep interval (min(1 s, retention))
    await bus.open("c", "t3")
    assert [e async for _, e in bus.subscribe("a")] == []


async def test_end_turn_closes_only_the_turn_it_names(bus: EventBus) -> None:
    """A dead process's turn is ended by another process (chat/leases.py): its followers get the last
    event and the end; a newer turn on the channel is left alone."""
    await bus.open("c-end", "t1")
    await bus.publish("c-end", {"type": "text_delta", "text": "a"})
    assert await bus.current_turn("c-end") == "t1"
    assert not await bus.end_turn("c-end", "t0", {"type": "turn_stopped"})
    assert await bus.end_turn("c-end", "t1", {"type": "turn_stopped"})
    assert [event["type"] async for _, event in bus.subscribe("c-end")] == ["text_delta", "turn_stopped"]
    assert await bus.current_turn("c-end") is None
    assert not await bus.end_turn("c-end", "t1", {"type": "turn_stopped"})  # ended once


async def test_released_listeners_end_while_the_turn_runs(bus: EventBus) -> None:
    await bus.open("c-drain", "t1")
    await bus.publish("c-drain", {"type": "text_delta", "text": "a"})
    seen: list[str] = []

    async def listen() -> None:
        async for batch in bus.batches("c-drain", idle_seconds=0.05):
            seen.extend(event["type"] for _, event in batch)

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.1)
    bus.release_listeners()
    await asyncio.wait_for(listener, 2)
    assert seen == ["text_delta"]


async def test_a_running_turns_redis_keys_expire_unless_kept_alive() -> None:
    async with open_redis_bus(Redis.from_url(REDIS_URL)) as bus:
        await bus.open("c-ttl", "t1")
        await bus.publish("c-ttl", {"type": "text_delta", "text": "a"})
        redis = bus._redis
        await bus.keep_alive(["c-ttl"], 30)
        for kind in ("turn", "turnid", "listen"):
            assert 0 < await redis.ttl(f"{bus._prefix}{kind}:c-ttl") <= 30
        await bus.close("c-ttl", "t1")
        for kind in ("turn", "turnid", "listen"):
            assert 0 < await redis.ttl(f"{bus._prefix}{kind}:c-ttl") <= 60  # the retention


async def test_progress_events_reach_listeners_soon_and_in_order_text_at_once() -> None:
    """In-process: a run's progress events (tool calls, steps) wake listeners within
    PROGRESS_RELAY_DELAY_SECONDS, batched with what follows; text wakes them at once; order is kept."""
    from agentcreator.chat.bus import PROGRESS_RELAY_DELAY_SECONDS

    bus = MemoryEventBus(retention_seconds=60)
    await bus.open("p1", "turn")
    batches: list[tuple[float, list[str]]] = []

    async def listen() -> None:
        async for batch in bus.batches("p1"):
            if batch:
                batches.append((asyncio.get_running_loop().time(), [event["type"] for _, event in batch]))

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bus.publish("p1", {"type": "tool_call_started"})
    await bus.publish("p1", {"type": "tool_call_updated"})
    await asyncio.sleep(0)  # a listener woken at once would take them here
    assert batches == []
    await asyncio.sleep(PROGRESS_RELAY_DELAY_SECONDS * 4)
    assert [types for _, types in batches] == [["tool_call_started", "tool_call_updated"]]
    assert batches[0][0] - started < PROGRESS_RELAY_DELAY_SECONDS * 4
    await bus.publish("p1", {"type": "step_finished"})
    await bus.publish("p1", {"type": "text_delta"})  # text: at once, and the pending progress with it
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert [types for _, types in batches][1:] == [["step_finished", "text_delta"]]
    await bus.close("p1", "turn")
    await asyncio.wait_for(listener, timeout=5)
