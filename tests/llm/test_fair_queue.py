"""The embedded model's slots: round-robin by user, not first come first served."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

import pytest

from agentcreator.llm.fair_queue import FairSlots
from agentcreator.llm.local_llamacpp import SMOLLM2_NAME, LocalLlamaProvider
from agentcreator.llm.types import Completed, Queued, TextDelta
from tests.llm.helpers import request, terminal


async def _serve_order(slots: FairSlots, arrivals: list[str]) -> list[str]:
    """Queue ``arrivals`` (user names) behind a held slot, then free slots one by one."""
    await slots.acquire("holder")
    served: list[str] = []

    async def wait(user: str, index: int) -> None:
        await slots.acquire(user)
        served.append(f"{user}{index}")

    tasks = [asyncio.create_task(wait(user, i)) for i, user in enumerate(arrivals)]
    await asyncio.sleep(0)
    for _ in arrivals:
        slots.release()
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    slots.release()
    assert slots.in_use == 0 and not slots.locked()
    return served


async def test_one_users_backlog_does_not_hold_back_another_user() -> None:
    arrivals = ["a"] * 20 + ["b", "c"]
    served = await _serve_order(FairSlots(1), arrivals)
    assert served[:4] == ["a0", "b20", "c21", "a1"]  # b and c each wait for one of a's requests only
    assert [s for s in served if s.startswith("a")] == [f"a{i}" for i in range(20)]  # a's own order is kept


async def test_the_user_who_just_had_a_turn_goes_after_the_others() -> None:
    slots = FairSlots(1)
    await slots.acquire("a")  # a generates; a's next requests and then b's arrive
    served: list[str] = []

    async def wait(user: str, label: str) -> None:
        await slots.acquire(user)
        served.append(label)
        slots.release()

    tasks = [asyncio.create_task(wait("a", f"a{i}")) for i in range(3)] + [asyncio.create_task(wait("b", "b"))]
    await asyncio.sleep(0)
    slots.release()
    await asyncio.gather(*tasks)
    assert served == ["b", "a0", "a1", "a2"]


async def test_positions_count_one_request_per_user_per_round() -> None:
    slots = FairSlots(1)
    await slots.acquire("holder")
    waiters = [asyncio.create_task(slots.acquire("a")) for _ in range(5)]
    await asyncio.sleep(0)
    assert slots.position("b") == 2  # after a's first request
    assert slots.position("a") == 6
    assert slots.waiting == 5
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert slots.waiting == 0
    slots.release()
    assert not slots.locked()


async def test_a_cancelled_waiter_never_leaks_a_slot() -> None:
    slots = FairSlots(1)
    await slots.acquire("a")
    waiter = asyncio.create_task(slots.acquire("b"))
    await asyncio.sleep(0)
    slots.release()  # handed to b...
    waiter.cancel()  # ...who gives up at the same moment: the slot comes back
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slots.in_use == 0 and not slots.locked()
    await asyncio.wait_for(slots.acquire("c"), 1)


@pytest.mark.local_model
async def test_the_embedded_model_serves_users_round_robin(smollm2_gguf: Path) -> None:
    """With the real model and one slot: a holds it with 3 more requests queued, then b asks once. b's
    request is the next one to start (a just had a turn), not the fifth."""
    provider = LocalLlamaProvider({SMOLLM2_NAME: smollm2_gguf}, n_ctx=1024, max_concurrent=1, n_threads=2)
    started: list[str] = []

    async def run(user: str, label: str) -> None:
        stream = provider.stream(request(model=SMOLLM2_NAME, text="Say hi.", max_output_tokens=4, user=user))
        async with aclosing(stream) as events:
            all_events = []
            async for event in events:
                if not isinstance(event, Queued) and not started.count(label):
                    started.append(label)
                all_events.append(event)
        assert isinstance(terminal(all_events), Completed)

    try:
        async with aclosing(provider.stream(request(model=SMOLLM2_NAME, text="Tell me about the sea.",
                                                     max_output_tokens=64, user="a"))) as holder:
            assert isinstance(await anext(holder), TextDelta)
            tasks = [asyncio.create_task(run("a", f"a{i}")) for i in range(3)]
            await asyncio.sleep(0.05)
            tasks.append(asyncio.create_task(run("b", "b")))
            await asyncio.sleep(0.05)
            await holder.aclose()
            await asyncio.wait_for(asyncio.gather(*tasks), 300)
        assert started[:2] == ["b", "a0"]
    finally:
        await provider.aclose()
