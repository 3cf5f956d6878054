"""The watchdog of a running turn: it stops the turn when a stop is asked through the bus (from any
worker) or when nobody has listened to it for the grace period."""

from __future__ import annotations

import asyncio
import logging
import time

from agentcreator.chat.bus import EventBus
from agentcreator.chat.turns import RunningTurn

log = logging.getLogger(__name__)


async def watch_turn(turn: RunningTurn, bus: EventBus, grace_seconds: float) -> None:
    """Runs until the turn finishes or is stopped (setting ``chat.disconnect_grace_seconds``)."""
    # Listeners touch their channel every second; stop requests from other workers need a quicker look.
    interval = max(grace_seconds / 4, 0.05)
    if bus.stop_poll_seconds is not None:
        interval = min(interval, bus.stop_poll_seconds)

    while not turn.finished.is_set():
        try:
            async with asyncio.timeout(interval):  # not wait_for: that makes a task per poll
                await turn.finished.wait()
            return
        except TimeoutError:
            pass
        stop, last = await bus.watch_state(turn.conversation_id, turn.turn_id)  # one round trip
        if stop:
            turn.stop("user")
            return
        if last is not None and time.time() - last > grace_seconds:
            log.info("turn %s: no listener for %.1fs, stopping", turn.turn_id, grace_seconds)
            turn.stop("client_gone")
            return
