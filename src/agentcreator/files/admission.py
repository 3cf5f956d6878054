"""How many uploads a worker reads and processes at once (``FILES__MAX_CONCURRENT_UPLOADS``).

An upload holds a slot while its body is read, checked and stored; the others wait, unread (their
senders are held back by TCP), in arrival order, and none is refused for it. Uploads on one worker
share its event loop and CPU with the chat streams it relays; the limit bounds their share
(docs/performance.md, "Uploads").

A slot is handed on while its upload waits for its client (no bytes for ``idle_seconds``), so slow
or stalled senders do not hold the others back (before, four stalled clients blocked every upload of
the worker); the upload takes a slot again, waiting its turn, once its bytes are there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

T = TypeVar("T")
# An upload whose client sent nothing for this long gives its slot to the next one meanwhile.
IDLE_SECONDS = 0.05


class UploadSlots:
    def __init__(self, limit: int, idle_seconds: float = IDLE_SECONDS) -> None:
        self.limit = limit
        self.idle_seconds = idle_seconds
        self._free = asyncio.Semaphore(limit)
        self.in_use = 0  # slots held now (for tests and status)

    async def _take(self) -> None:
        await self._free.acquire()
        self.in_use += 1

    def _give_back(self) -> None:
        self.in_use -= 1
        self._free.release()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Hold a slot for the block (waiting for one first); given back on exit, whatever happens."""
        await self._take()
        slot = Slot(self)
        watcher = asyncio.create_task(slot.watch())
        try:
            yield slot
        finally:
            watcher.cancel()
            slot.give_back()


class Slot:
    """One upload's slot. ``client`` marks the waits for the client's bytes; ``watch`` (a task per
    upload, not per chunk: the reads stay cheap) hands the slot on when such a wait lasts."""

    def __init__(self, slots: UploadSlots) -> None:
        self._slots = slots
        self._loop = asyncio.get_running_loop()
        self.held = True
        self._waiting_since: float | None = None

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self._slots._give_back()

    async def client(self, receive: Callable[[], Awaitable[T]]) -> T:
        """``await receive()`` (the client's next bytes); with the slot held again when it returns."""
        self._waiting_since = self._loop.time()
        try:
            result = await receive()
        finally:
            self._waiting_since = None
        if not self.held:  # handed on while waiting: wait for a turn again
            await self._slots._take()
            self.held = True
        return result

    async def read(self, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``body``'s chunks, each awaited through ``client``."""
        chunks = aiter(body)
        while True:
            try:
                yield await self.client(chunks.__anext__)
            except StopAsyncIteration:
                return

    async def watch(self) -> None:
        idle = self._slots.idle_seconds
        while True:
            await asyncio.sleep(idle)
            since = self._waiting_since
            if since is not None and self._loop.time() - since >= idle:
                self.give_back()
