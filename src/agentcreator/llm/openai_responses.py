"""OpenAI through the Responses API (``POST /v1/responses``, streamed, ``store: false``).

Event mapping (SDK event -> ours):

* ``response.output_text.delta`` / ``response.refusal.delta`` -> ``TextDelta``
* ``response.output_item.added`` (``function_call``) -> ``ToolCallStarted`` (``index`` counts tool calls)
* ``response.function_call_arguments.delta`` -> ``ToolCallDelta``
* ``response.output_item.done`` (``function_call``) -> ``ToolCallDone`` with the item's full arguments
* hosted tools (web search, file search, code interpreter) and citations: ``llm/openai_hosted``
* ``response.completed`` -> ``UsageReported`` + ``Completed("tool_calls" if calls were made else "stop")``
* ``response.incomplete`` -> ``UsageReported`` + ``Completed("content_filter" | "length")``
* ``response.failed`` / ``error`` -> ``Failed`` (retryable for ``server_error``/``rate_limit_exceeded``)
* HTTP errors before the stream, a dropped connection, or an end without a terminal event -> ``Failed``
  (a broken stream is retryable and is preceded by an estimated ``UsageReported``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from agentcreator.llm._openai_common import (
    broken_stream,
    make_client,
    translate_openai_error,
    upstream_failure,
)
from agentcreator.llm.base import ModelProvider
from agentcreator.llm.openai_hosted import HOSTED_TOOL_TYPES, HostedMapper, hosted_tool_params
from agentcreator.llm.tokens import openai_token_counter
from agentcreator.llm.types import (
    ChatMessage,
    Completed,
    Failed,
    ImagePart,
    ModelInfo,
    ModelRequest,
    ModelSpec,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStarted,
    Usage,
    UsageReported,
)

MIN_OUTPUT_TOKENS = 16  # the Responses API refuses less
HOSTED_TOOLS = ["web_search", "file_search", "code_interpreter"]


@dataclass(frozen=True)
class _Known:
    context_length: int
    max_output_tokens: int
    reasoning: bool = False  # reasoning models refuse temperature/top_p
    hosted_tools: tuple[str, ...] = tuple(HOSTED_TOOLS)


# Declared capabilities of the chat models we support (context window / max output, from OpenAI's docs).
KNOWN_MODELS: dict[str, _Known] = {
    "gpt-4o": _Known(128_000, 16_384),
    "gpt-4o-mini": _Known(128_000, 16_384),
    "gpt-4.1": _Known(1_047_576, 32_768),
    "gpt-4.1-mini": _Known(1_047_576, 32_768),
    "gpt-4.1-nano": _Known(1_047_576, 32_768, hosted_tools=("file_search", "code_interpreter")),
    "gpt-5": _Known(400_000, 128_000, reasoning=True),
    "gpt-5-mini": _Known(400_000, 128_000, reasoning=True),
    "gpt-5-nano": _Known(400_000, 128_000, reasoning=True),
}


def known_model(name: str) -> _Known | None:
    """Capabilities of ``name`` or of the family it is a dated snapshot of (``gpt-4o-2024-08-06``)."""
    if name in KNOWN_MODELS:
        return KNOWN_MODELS[name]
    best = max((key for key in KNOWN_MODELS if name.startswith(key + "-")), key=len, default=None)
    if best is None or not name[len(best) + 1:][:1].isdigit():
        return None
    return KNOWN_MODELS[best]


def input_items(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Our messages as Responses ``input`` items (the whole history: nothing is stored upstream)."""
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            items.append({"type": "function_call_output", "call_id": message.tool_call_id or "",
                          "output": message.text})
        elif message.role == "assistant":
            if message.text:
                items.append({"type": "message", "role": "assistant", "content": message.text})
            items.extend({"type": "function_call", "call_id": call.call_id, "name": call.name,
                          "arguments": call.arguments} for call in message.tool_calls)
        else:
            content: list[dict[str, Any]] = []
            for part in message.content:
                if isinstance(part, TextPart):
                    content.append({"type": "input_text", "text": part.text})
                elif isinstance(part, ImagePart):
                    content.append({"type": "input_image", "image_url": part.url, "detail": part.detail})
            items.append({"type": "message", "role": "user", "content": content})
    return items


def request_params(request: ModelRequest) -> dict[str, Any]:
    params: dict[str, Any] = {"model": request.model, "input": input_items(request.messages), "store": False}
    if request.instructions:
        params["instructions"] = request.instructions
    if request.tools or request.hosted_tools:
        params["tools"] = [{"type": "function", "name": tool.name, "description": tool.description,
                            "parameters": tool.parameters, "strict": tool.strict} for tool in request.tools]
        if request.hosted_tools:
            hosted, include = hosted_tool_params(request.hosted_tools)
            params["tools"].extend(hosted)
            params["include"] = include
            if request.max_hosted_calls is not None:
                params["max_tool_calls"] = request.max_hosted_calls
        if request.tool_choice is not None:
            params["tool_choice"] = request.tool_choice
    if request.max_output_tokens is not None:
        params["max_output_tokens"] = max(MIN_OUTPUT_TOKENS, request.max_output_tokens)
    known = known_model(request.model)
    if not (known and known.reasoning):
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.top_p is not None:
            params["top_p"] = request.top_p
    return params


def usage_from(raw: Any) -> Usage | None:
    if raw is None:
        return None
    input_details = getattr(raw, "input_tokens_details", None)
    output_details = getattr(raw, "output_tokens_details", None)
    return Usage(input_tokens=raw.input_tokens or 0, output_tokens=raw.output_tokens or 0,
                 cached_input_tokens=getattr(input_details, "cached_tokens", 0) or 0,
                 reasoning_tokens=getattr(output_details, "reasoning_tokens", 0) or 0)


@dataclass
class _Call:
    index: int
    call_id: str
    name: str
    arguments: list[str] = field(default_factory=list)


@dataclass
class _ResponsesMapper:
    provider: str
    calls: list[_Call] = field(default_factory=list)
    by_key: dict[str, _Call] = field(default_factory=dict)  # by output item id and by "#output_index"
    text: list[str] = field(default_factory=list)
    finished: bool = False
    hosted: HostedMapper = field(default_factory=HostedMapper)

    def _call(self, event: Any) -> _Call | None:
        return self.by_key.get(getattr(event, "item_id", None) or "") or self.by_key.get(
            f"#{getattr(event, 'output_index', -1)}")

    def produced(self) -> str:
        return "".join(self.text) + "".join("".join(call.arguments) for call in self.calls)

    def feed(self, event: Any) -> list[StreamEvent]:
        kind = event.type
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            self.text.append(event.delta)
            return [TextDelta(text=event.delta)]
        hosted = self.hosted.feed(event)
        if hosted is not None:
            return hosted
        if kind == "response.output_item.added" and event.item.type == "function_call":
            item = event.item
            call = _Call(len(self.calls), item.call_id, item.name)
            self.calls.append(call)
            self.by_key[f"#{event.output_index}"] = call
            if item.id:
                self.by_key[item.id] = call
            return [ToolCallStarted(index=call.index, call_id=call.call_id, name=call.name)]
        if kind == "response.function_call_arguments.delta":
            call = self._call(event)
            if call is None:
                return []
            call.arguments.append(event.delta)
            return [ToolCallDelta(index=call.index, call_id=call.call_id, arguments_delta=event.delta)]
        if kind == "response.output_item.done" and event.item.type == "function_call":
            call = self.by_key.get(event.item.id or "") or self.by_key.get(f"#{event.output_index}")
            if call is None:
                return []
            arguments = event.item.arguments if event.item.arguments is not None else "".join(call.arguments)
            return [ToolCallDone(index=call.index, call_id=call.call_id, name=call.name, arguments=arguments)]
        if kind in ("response.completed", "response.incomplete"):
            self.finished = True
            usage = usage_from(event.response.usage)
            if kind == "response.completed":
                finish = "tool_calls" if self.calls else "stop"
            else:
                details = event.response.incomplete_details
                finish = "content_filter" if getattr(details, "reason", None) == "content_filter" else "length"
            events: list[StreamEvent] = [UsageReported(usage=usage)] if usage else []
            return [*events, Completed(finish_reason=finish, usage=usage)]
        if kind == "response.failed":
            self.finished = True
            error = event.response.error
            failure = upstream_failure(self.provider, getattr(error, "code", None), getattr(error, "message", None))
            return [Failed(error=failure.to_info())]
        if kind == "error":
            self.finished = True
            return [Failed(error=upstream_failure(self.provider, event.code, event.message).to_info())]
        return []


class OpenAIResponsesProvider(ModelProvider):
    hosted_tool_types = HOSTED_TOOL_TYPES

    def __init__(self, api_key: str | None, base_url: str | None = None, name: str = "openai", *,
                 models: Sequence[ModelSpec] | None = None, discover: bool = False,
                 timeout: float = 600.0, max_retries: int = 2, client: openai.AsyncOpenAI | None = None) -> None:
        """``models`` adds or overrides model declarations; with ``discover`` ``list_models`` asks
        ``GET /models`` and keeps the known chat models the account can use."""
        self.name = name
        self._specs = {spec.name: spec for spec in models or []}
        self._discover = discover
        self._client = client or make_client(api_key=api_key, base_url=base_url, timeout=timeout,
                                             max_retries=max_retries)
        self._tokens = openai_token_counter()

    def _info(self, model: str) -> ModelInfo | None:
        known = known_model(model)
        spec = self._specs.get(model)
        if known is None and spec is None:
            return None
        base = known or _Known(spec.context_length or 128_000, spec.max_output_tokens or 4_096,  # type: ignore[union-attr]
                               hosted_tools=())
        info = ModelInfo(id=f"{self.name}/{model}", provider=self.name, name=model,
                         context_length=base.context_length, max_output_tokens=base.max_output_tokens,
                         vision=True, tools=True, hosted_tools=list(base.hosted_tools))
        return spec.apply(info) if spec else info

    async def _remote_names(self) -> list[str]:
        try:
            return [model.id async for model in self._client.models.list()]
        except openai.OpenAIError as exc:
            raise translate_openai_error(exc, self.name) from exc

    async def list_models(self) -> list[ModelInfo]:
        names = list(KNOWN_MODELS) + [name for name in self._specs if name not in KNOWN_MODELS]
        if self._discover:
            remote = await self._remote_names()
            names = [name for name in remote if name in self._specs or known_model(name)]
        return [info for name in names if (info := self._info(name)) is not None]

    async def check(self) -> None:
        await self._remote_names()

    def count_tokens(self, model: str, messages: Sequence[ChatMessage], instructions: str = "") -> int:
        return self._tokens.count(messages, instructions)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        mapper = _ResponsesMapper(self.name)
        try:
            upstream = await self._client.responses.create(**request_params(request), stream=True)
        except openai.OpenAIError as exc:
            yield Failed(error=translate_openai_error(exc, self.name).to_info())
            return
        failure: Failed | None = None
        try:
            async for event in upstream:
                for out in mapper.feed(event):
                    yield out
                if mapper.finished:
                    break
        except openai.OpenAIError as exc:
            error = translate_openai_error(exc, self.name)
            if isinstance(exc, openai.APIConnectionError):
                error = broken_stream(self.name, exc)
            failure = Failed(error=error.to_info())
        finally:
            await upstream.close()
        if mapper.finished:
            return
        if failure is None or failure.error.retryable:
            yield UsageReported(usage=self._estimate(request, mapper))
        yield failure or Failed(error=broken_stream(self.name).to_info())

    def _estimate(self, request: ModelRequest, mapper: _ResponsesMapper) -> Usage:
        produced = mapper.produced()
        return Usage(input_tokens=self.count_tokens(request.model, request.messages, request.instructions),
                     output_tokens=self._tokens.count_text(produced), estimated=True)

    async def aclose(self) -> None:
        await self._client.close()
