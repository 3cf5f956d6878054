"""A scripted model for unit tests of the code above the model layer (the chat runner, the API).

    provider = ScriptedProvider()
    provider.push(text_events("Hel", "lo"))                       # one reply per request, in order
    provider.push(tool_call_events("lookup", '{"q":', ' "x"}'))
    provider.push([TextDelta(text="slow"), Delay(5), *completed()]) # Delay / Raise / Hang steps
    registry = ModelRegistry.of(provider)                           # resolves "scripted/test-model"

``provider.requests`` records every ``ModelRequest``; ``provider.closed_early`` counts streams the
consumer closed (or cancelled) before their script ended.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from agentcreator.llm.base import ModelProvider, estimate_prompt_tokens
from agentcreator.llm.types import (
    ChatMessage,
    Completed,
    FinishReason,
    ModelInfo,
    ModelRequest,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStarted,
    Usage,
    UsageReported,
)


@dataclass(frozen=True)
class Delay:
    seconds: float


@dataclass(frozen=True)
class Raise:
    """Raise this exception from the stream (e.g. ``asyncio.CancelledError()`` or a bug)."""

    exception: BaseException


@dataclass(frozen=True)
class Hang:
    """Wait forever: the consumer has to close or cancel the stream."""


Step = StreamEvent | Delay | Raise | Hang
DEFAULT_USAGE = Usage(input_tokens=10, output_tokens=5)


def completed(finish_reason: FinishReason = "stop", usage: Usage | None = DEFAULT_USAGE) -> list[StreamEvent]:
    events: list[StreamEvent] = [UsageReported(usage=usage)] if usage else []
    return [*events, Completed(finish_reason=finish_reason, usage=usage)]


def text_events(*chunks: str, usage: Usage | None = DEFAULT_USAGE) -> list[StreamEvent]:
    return [*(TextDelta(text=chunk) for chunk in chunks), *completed("stop", usage)]


def tool_call_events(name: str, *fragments: str, call_id: str = "call_scripted_0", index: int = 0,
                     usage: Usage | None = DEFAULT_USAGE, finish: bool = True) -> list[StreamEvent]:
    events: list[StreamEvent] = [ToolCallStarted(index=index, call_id=call_id, name=name)]
    events += [ToolCallDelta(index=index, call_id=call_id, arguments_delta=part) for part in fragments]
    events.append(ToolCallDone(index=index, call_id=call_id, name=name, arguments="".join(fragments) or "{}"))
    return [*events, *completed("tool_calls", usage)] if finish else events


class ScriptedProvider(ModelProvider):
    def __init__(self, scripts: Iterable[Sequence[Step]] = (), *, name: str = "scripted",
                 models: Sequence[ModelInfo] | None = None, default: Sequence[Step] | None = None) -> None:
        self.name = name
        self.scripts: deque[list[Step]] = deque(list(script) for script in scripts)
        self.default: list[Step] = list(default) if default is not None else text_events("OK")
        self.models = list(models) if models is not None else [
            ModelInfo(id=f"{name}/test-model", provider=name, name="test-model", context_length=8192,
                      max_output_tokens=1024, vision=True, tools=True)]
        self.requests: list[ModelRequest] = []
        self.closed_early = 0
        self.closed = False

    def push(self, *scripts: Sequence[Step]) -> None:
        self.scripts.extend(list(script) for script in scripts)

    async def list_models(self) -> list[ModelInfo]:
        return list(self.models)

    def count_tokens(self, model: str, messages: Sequence[ChatMessage], instructions: str = "") -> int:
        return estimate_prompt_tokens(messages, instructions)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        script = self.scripts.popleft() if self.scripts else list(self.default)
        finished = False
        try:
            for step in script:
                if isinstance(step, Delay):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, Raise):
                    raise step.exception
                elif isinstance(step, Hang):
                    await asyncio.Event().wait()
                else:
                    yield step
            finished = True
        finally:
            if not finished:
                self.closed_early += 1

    async def aclose(self) -> None:
        self.closed = True
