"""The upload slots (files/admission.py): at most ``limit`` held at once, the others wait their turn and
all get one; a slot whose upload waits for its client is handed on; errors and cancellation give it back."""

from __future__ import annotations

import asyncio

import pytest

from agentcreator.files.admission import UploadSlots


async def test_more_uploads_than_slots_all_get_one_in_turn() -> None:
    slots = UploadSlots(2, idle_seconds=10)
    most = 0
    order: list[int] = []

    async def upload(i: int) -> None:
        nonlocal most
        async with slots.slot():
            order.append(i)
            most = max(most, slots.in_use)
            await asyncio.sleep(0.01)

    tasks = []
    for i in range(7):
        tasks.append(asyncio.create_task(upload(i)))
        await asyncio.sleep(0)  # they arrive in this order
    await asyncio.gather(*tasks)
    assert order == list(range(7))  # first come, first served
    assert most == 2
    assert slots.in_use == 0


async def test_a_slot_waiting_for_its_client_is_handed_on_and_taken_back() -> None:
    slots = UploadSlots(1, idle_seconds=0.02)
    arrived = asyncio.Event()
    second_done = asyncio.Event()
    events: list[str] = []

    async def slow_bytes() -> bytes:
        await arrived.wait()
        return b"late"

    async def stalled() -> None:
        async with slots.slot() as slot:
            assert await slot.client(slow_bytes) == b"late"
            events.append(f"stalled got its bytes, held={slot.held}, in_use={slots.in_use}")

    async def quick() -> None:
        async with slots.slot() as slot:
            events.append("quick has the slot")
            assert await slot.client(lambda: asyncio.sleep(0, b"now")) == b"now"
            arrived.set()  # the stalled client's bytes come while this one still holds the slot
            await asyncio.sleep(0.05)
            events.append("quick done")
        second_done.set()

    first = asyncio.create_task(stalled())
    await asyncio.sleep(0.001)
    assert slots.in_use == 1
    await asyncio.wait_for(quick(), timeout=2)  # not held back by the stalled one
    await asyncio.wait_for(first, timeout=2)
    assert events == ["quick has the slot", "quick done", "stalled got its bytes, held=True, in_use=1"]
    assert slots.in_use == 0


@pytest.mark.parametrize("how", ["error", "cancel while waiting for the client", "cancel while waiting for a slot"])
async def test_a_failed_or_cancelled_upload_gives_its_slot_back(how: str) -> None:
    slots = UploadSlots(1, idle_seconds=0.01)
    never = asyncio.Event()

    async def upload() -> None:
        async with slots.slot() as slot:
            if how == "error":
                raise ValueError("bad body")
            await slot.client(never.wait)

    if how == "cancel while waiting for a slot":
        async with slots.slot():
            task = asyncio.create_task(upload())
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    else:
        task = asyncio.create_task(upload())
        await asyncio.sleep(0.03)  # past idle_seconds: the slot was handed on
        if how == "error":
            with pytest.raises(ValueError):
                await task
        else:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert slots.in_use == 0
    async with asyncio.timeout(1):
        async with slots.slot():  # free again
            assert slots.in_use == 1

