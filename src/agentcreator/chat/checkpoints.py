"""Checkpoints of a streaming answer: its text so far, saved while the model writes, so that a crash
loses at most the last interval (chat/leases.py finishes such a turn from its last checkpoint).

A checkpoint is due once ``chat.checkpoint_seconds`` have passed since the last one (or the round's
start) *and* ``chat.checkpoint_tokens`` deltas have arrived since: an answer done within the first
interval is never checkpointed (its end is saved anyway). The save is one UPDATE of the answer's row
in a transaction of its own, run beside the stream (at most one in flight; the relay never waits for
it), and awaited when the round ends, so that it cannot land after the round's own save.

A turn's start comes first: while one is under way in this process (``defer``), a due checkpoint waits
(up to a second interval), so that its write does not hold the database's write lock (SQLite) that
the start's transaction needs, nor the event loop, on the way to a first token."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
Save = Callable[[str], Awaitable[None]]


class Checkpointer:
    def __init__(self, save: Save, *, seconds: float | Callable[[], float], tokens: int,
                 defer: Callable[[], bool] | None = None) -> None:
        """``seconds``: the interval, or a function giving it (it may grow with the load); ``defer``:
        whether a turn's start is under way (a due checkpoint then waits, up to one more interval)."""
        self._save = save
        self._defer = defer
        self._interval = seconds if callable(seconds) else (lambda: seconds)
        self._tokens = tokens
        self._since = time.monotonic()  # the round's start, then the last checkpoint
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self.saved = 0  # checkpoints written (for tests and logs)

    def delta(self, text: list[str]) -> None:
        """A text delta arrived; ``text``: the round's text so far, in pieces."""
        self._count += 1
        if self._count < self._tokens:
            return
        now = time.monotonic()
        interval = self._interval()
        if now - self._since < interval:
            return
        if self._defer is not None and now - self._since < 2 * interval and self._defer():
            return  # a turn is starting: its write and first token come first
        if self._task is not None and not self._task.done():
            return  # the previous save is still running: the next delta tries again
        self._count = 0
        self._since = now
        self._task = asyncio.create_task(self._write("".join(text)), name="checkpoint")

    async def _write(self, text: str) -> None:
        try:
            await self._save(text)
            self.saved += 1
        except Exception:  # a lost checkpoint costs at most an interval's text after a crash
            log.warning("saving a checkpoint of a streaming answer failed", exc_info=True)

    async def aclose(self) -> None:
        """Wait for a save in flight (even if this task is cancelled meanwhile)."""
        task = self._task
        if task is None or task.done():
            return
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()
