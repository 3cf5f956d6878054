"""Graceful shutdown for rolling restarts (docs/operations.md).

On SIGTERM the process stops taking new turns (503 with ``Retry-After``: a load balancer retries
elsewhere; ``/health/ready`` answers 503 too) and lets its running turns finish for up to
``chat.drain_seconds``. At the deadline the turns still running are stopped as ``shutdown``: each saves
its text so far as ``interrupted``, settles its usage and tells its followers. Then the listeners of
other processes' turns are let go (their clients resume through another process with
``Last-Event-ID``), and the server's own shutdown begins (the original SIGTERM handler: uvicorn's).
A second SIGTERM skips the wait.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from agentcreator.chat.bus import EventBus
from agentcreator.chat.service import ChatService
from agentcreator.chat.turns import TurnRegistry

log = logging.getLogger(__name__)


async def drain(chat: ChatService, turns: TurnRegistry, bus: EventBus, seconds: float, poll: float = 0.05) -> int:
    """Refuse new turns, wait up to ``seconds`` for the running ones, stop the rest; returns how many
    had to be stopped."""
    chat.draining = True
    deadline = time.monotonic() + seconds
    while True:  # polled: turns starting during the drain's first moments are waited for too
        if not len(turns) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(poll)
    left = len(turns)
    if left:
        log.warning("drain: %d turn(s) still running after %.0fs: saving them as interrupted", left, seconds)
        await turns.stop_all("shutdown")
    await chat.drain()  # what runs after the answers (titles), briefly
    bus.release_listeners()  # followers of other processes' turns resume elsewhere
    return left


def install_sigterm_drain(chat: ChatService, turns: TurnRegistry, bus: EventBus,
                          seconds: float) -> Callable[[], None]:
    """Replace the SIGTERM handler (installed by the server) with one that drains first, then calls it.
    Returns what puts the previous handler back (at the app's shutdown)."""
    if not hasattr(signal, "SIGTERM"):
        return lambda: None
    try:
        previous: Any = signal.getsignal(signal.SIGTERM)
    except ValueError:  # not the main thread (an embedded server): nothing to install
        return lambda: None
    loop = asyncio.get_running_loop()
    state: dict[str, Any] = {"task": None}

    def hand_over(sig: int, frame: FrameType | None) -> None:
        if callable(previous):
            previous(sig, frame)
        else:  # no handler of the server's: end the process as SIGTERM would
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)

    def on_sigterm(sig: int, frame: FrameType | None) -> None:
        if state["task"] is not None:  # a second SIGTERM: stop waiting
            log.warning("second SIGTERM: shutting down without waiting for the drain")
            hand_over(sig, frame)
            return
        log.warning("SIGTERM: draining (no new turns; up to %.0fs for the running ones)", seconds)

        async def run() -> None:
            try:
                await drain(chat, turns, bus, seconds)
            finally:
                hand_over(sig, frame)
        state["task"] = loop.create_task(run(), name="sigterm-drain")

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread
        return lambda: None

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    return restore
