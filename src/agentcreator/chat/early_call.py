"""Model calls that start before their turn's runner: while the turn is saved (``EarlyCall``), or
under load from the turn's start once it is saved (``open_unless_stopped``).

When no budget can refuse a turn (no limit on any budget it counts against), the chat service sends
the model request right after the read and saves the turn while the model works on its first token:
the write transaction no longer adds to the time to first token. The runner reads the call's events
only once the turn is saved. If the save fails (the conversation moved or was deleted meanwhile, a
database error) the call is cancelled: its connection is closed before any event was used. With a
budget limit, the reservation comes first and the model is called after it (chat/service.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from agentcreator.chat.turns import RunningTurn
from agentcreator.llm.base import ModelProvider, OpenedStream
from agentcreator.llm.types import ModelRequest, StreamEvent


async def open_unless_stopped(turn: RunningTurn, provider: ModelProvider,
                              request: ModelRequest) -> OpenedStream | None:
    """``provider.open_stream(request)`` from the calling task, which a stop of ``turn`` cancels while
    the model server has not answered (None then: the runner sees the stop and saves the answer as
    stopped). A cancellation from elsewhere (shutdown, the caller's own) goes on as usual."""
    current = asyncio.current_task()
    turn.opening = current
    try:
        return await provider.open_stream(request)
    except asyncio.CancelledError:
        if turn.stop_reason is None or current is None:
            raise
        current.uncancel()
        return None
    finally:
        turn.opening = None


class EarlyCall:
    """``provider.stream(request)``, already running: a task of its own fetches the first event, so
    the request goes out at once. Iterate it like the stream (the first event, then the rest);
    ``aclose`` cancels what is still running and closes the stream."""

    def __init__(self, stream: AsyncIterator[StreamEvent]) -> None:
        self._stream = stream
        self._first: asyncio.Task[StreamEvent | None] | None = asyncio.create_task(self._fetch_first())

    @classmethod
    async def start(cls, provider: ModelProvider, request: ModelRequest) -> EarlyCall:
        """Start the call and let the request go out before the caller goes on (a SQLite write runs
        without suspending, and would otherwise come first): one event-loop turn for the call's first
        step, one for aiohttp's body writer (a task of its own before Python 3.12)."""
        call = cls(provider.stream(request))
        for _ in range(2):
            await asyncio.sleep(0)
        return call

    async def _fetch_first(self) -> StreamEvent | None:
        try:
            return await anext(self._stream)
        except StopAsyncIteration:  # a task must not end with it: None stands for "no events"
            return None

    def __aiter__(self) -> EarlyCall:
        return self

    async def __anext__(self) -> StreamEvent:
        first, self._first = self._first, None
        if first is not None:
            event = await first  # cancelling the reader cancels the fetch too
            if event is None:
                raise StopAsyncIteration
            return event
        return await anext(self._stream)

    async def aclose(self) -> None:
        first, self._first = self._first, None
        if first is not None:
            first.cancel()
            await asyncio.wait({first})
            if not first.cancelled():
                first.exception()  # retrieved: a failure before the cancel is not worth a warning
        await self._stream.aclose()  # type: ignore[attr-defined]
