"""Small helpers shared by the model-layer tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TypeVar

from agentcreator.llm.base import ModelProvider
from agentcreator.llm.types import (
    ChatMessage,
    Completed,
    Failed,
    FunctionTool,
    ModelRequest,
    StreamEvent,
    TextDelta,
    ToolCallDone,
    UsageReported,
)

T = TypeVar("T")

WEATHER_TOOL = FunctionTool(
    name="get_weather", description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})


def request(model: str = "gpt-4o-mini", text: str = "Hello?", **kwargs: object) -> ModelRequest:
    values: dict[str, object] = {"model": model, "instructions": "Answer briefly.",
                                 "messages": [ChatMessage.user(text)]}
    values.update(kwargs)
    return ModelRequest(**values)  # type: ignore[arg-type]


async def collect(provider: ModelProvider, req: ModelRequest) -> list[StreamEvent]:
    async with aclosing(provider.stream(req)) as events:
        return [event async for event in events]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def of_type(events: list[StreamEvent], kind: type[T]) -> list[T]:
    return [event for event in events if isinstance(event, kind)]


def terminal(events: list[StreamEvent]) -> Completed | Failed:
    last = events[-1]
    assert isinstance(last, Completed | Failed), f"stream did not end with a terminal event: {last!r}"
    assert sum(isinstance(event, Completed | Failed) for event in events) == 1
    return last


def usage_events(events: list[StreamEvent]) -> list[UsageReported]:
    return of_type(events, UsageReported)


def tool_calls_done(events: list[StreamEvent]) -> list[ToolCallDone]:
    return of_type(events, ToolCallDone)


async def first_then_close(stream: AsyncIterator[StreamEvent]) -> StreamEvent:
    """Read one event, then close the stream (a hang guard bounds the close); return the event."""
    event = await anext(stream)
    await asyncio.wait_for(stream.aclose(), 10)  # type: ignore[attr-defined]
    return event


async def wait_for_thread_event(event: threading.Event, seconds: float = 5.0) -> bool:
    """Wait for a ``threading.Event`` (set by the double's server thread) without blocking the loop."""
    return await asyncio.to_thread(event.wait, seconds)
