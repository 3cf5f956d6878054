"""The provider interface. A provider speaks one wire protocol to one place with one set of credentials.

Contract of :meth:`ModelProvider.stream`:

* it is an async generator of :data:`~agentcreator.llm.types.StreamEvent`;
* it ends with exactly one terminal event, ``Completed`` or ``Failed``, and never raises a
  ``ProviderError``: problems before the first event (HTTP 401/429/5xx, unreachable server, a
  capability the model lacks) are ``Failed`` events too, so a consumer has a single error path;
* closing it (``aclose()``, e.g. through ``contextlib.aclosing``) or cancelling the task that iterates
  it cancels the upstream request promptly.

:meth:`complete` drains the stream (one processing path) and raises the ``ProviderError`` a
``Failed`` event describes.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing

from agentcreator.llm.errors import CapabilityError, ModelNotFound, ProviderError
from agentcreator.llm.types import (
    ChatMessage,
    Completed,
    Failed,
    FinishReason,
    ImagePart,
    ModelInfo,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDone,
    Usage,
    UsageReported,
)

# Heuristic used when no tokenizer is available: about 4 characters per token for English text,
# plus a few tokens of framing per message, and a flat cost per image (OpenAI's "low" detail price).
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 85


def estimate_text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def flatten_for_count(messages: Sequence[ChatMessage], instructions: str) -> tuple[list[str], int]:
    """The texts of a conversation as a tokenizer sees them, and the number of images."""
    texts = [instructions] if instructions else []
    images = 0
    for message in messages:
        texts.append(message.text)
        texts.extend(f"{call.name}{call.arguments}" for call in message.tool_calls)
        images += sum(1 for part in message.content if isinstance(part, ImagePart))
    return texts, images


def estimate_prompt_tokens(messages: Sequence[ChatMessage], instructions: str = "") -> int:
    texts, images = flatten_for_count(messages, instructions)
    return sum(estimate_text_tokens(text) + TOKENS_PER_MESSAGE for text in texts) + images * TOKENS_PER_IMAGE


def ensure_capabilities(info: ModelInfo, request: ModelRequest) -> None:
    """Raise :class:`CapabilityError` when the request needs something the model cannot do."""
    if request.has_images and not info.vision:
        raise CapabilityError(f"Model '{info.id}' cannot read images", provider=info.provider)
    if request.tools and not info.tools:
        raise CapabilityError(f"Model '{info.id}' cannot call tools", provider=info.provider)
    missing = sorted({tool.type for tool in request.hosted_tools} - set(info.hosted_tools))
    if missing:
        raise CapabilityError(f"Model '{info.id}' cannot run the hosted tools {', '.join(missing)}",
                              provider=info.provider)


class OpenedStream:
    """A model call's events (:meth:`ModelProvider.open_stream`). ``aclose`` also runs ``on_close``,
    which releases what was opened for events never read (a generator that never started runs no
    ``finally``)."""

    __slots__ = ("_events", "_on_close")

    def __init__(self, events: AsyncIterator[StreamEvent],
                 on_close: Callable[[], Awaitable[None]] | None = None) -> None:
        self._events = events
        self._on_close = on_close

    def __aiter__(self) -> OpenedStream:
        return self

    def __anext__(self) -> Awaitable[StreamEvent]:
        return self._events.__anext__()

    async def aclose(self) -> None:
        try:
            await self._events.aclose()  # type: ignore[attr-defined]
        finally:
            if self._on_close is not None:
                await self._on_close()


class ModelProvider(ABC):
    name: str
    # The hosted tools this provider's protocol can send (``ModelRequest.hosted_tools``): none but
    # OpenAI's Responses API. A model's ``ModelInfo.hosted_tools`` outside this set is never used.
    hosted_tool_types: frozenset[str] = frozenset()

    @abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Stream the reply to ``request`` (implemented as an ``async def`` generator)."""

    async def open_stream(self, request: ModelRequest) -> OpenedStream:
        """Send ``request`` now and return its events, to be read (maybe by another task) like
        :meth:`stream`'s. A failure to start comes as the stream's events, never raised. The caller
        reads the events or closes them (``aclose``). By default the call starts when they are first read."""
        return OpenedStream(self.stream(request))

    @abstractmethod
    async def list_models(self) -> list[ModelInfo]:
        """The models this provider offers, with their declared capabilities."""

    @abstractmethod
    def count_tokens(self, model: str, messages: Sequence[ChatMessage], instructions: str = "") -> int:
        """Tokens the prompt would take (exact where a tokenizer is available, else estimated)."""

    async def check(self) -> None:
        """Test the connection; raise a ``ProviderError`` with a clear message when it does not work."""
        await self.list_models()

    async def model_info(self, model: str) -> ModelInfo:
        for info in await self.list_models():
            if info.name == model:
                return info
        raise ModelNotFound(f"Model '{self.name}/{model}' is not available: provider '{self.name}' "
                            f"has no model '{model}'", provider=self.name)

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release clients, threads and loaded models."""

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """The non-streaming call: drain :meth:`stream`."""
        text: list[str] = []
        tool_calls: list[ToolCall] = []
        usage: Usage | None = None
        finish: FinishReason | None = None
        async with aclosing(self.stream(request)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    text.append(event.text)
                elif isinstance(event, ToolCallDone):
                    tool_calls.append(event.to_tool_call())
                elif isinstance(event, UsageReported):
                    usage = event.usage
                elif isinstance(event, Completed):
                    finish = event.finish_reason
                    usage = event.usage or usage
                    break
                elif isinstance(event, Failed):
                    raise ProviderError.from_info(event.error)
        if finish is None:
            raise ProviderError(f"Provider '{self.name}' ended the stream without completing it",
                                provider=self.name, retryable=True)
        return ModelResponse(text="".join(text), tool_calls=tool_calls, usage=usage, finish_reason=finish)
