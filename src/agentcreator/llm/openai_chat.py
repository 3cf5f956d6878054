"""Any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, LM Studio) through Chat Completions.

Streaming with ``stream_options: {include_usage: true}``. Mapping:

* ``delta.content`` -> ``TextDelta``
* ``delta.tool_calls[i]``: the first fragment of an index (with ``id``/``name``) -> ``ToolCallStarted``;
  argument fragments -> ``ToolCallDelta``; all calls -> ``ToolCallDone`` (in index order) once the
  stream finishes. A server that sends whole arguments in one delta (Ollama) works the same way; a
  server that omits the id gets a generated ``call_...`` id.
* ``finish_reason`` -> ``Completed``: ``stop | length | tool_calls | content_filter`` as they are,
  ``function_call`` -> ``tool_calls``, and ``stop`` with tool calls -> ``tool_calls`` (Ollama).
* The final ``choices: []`` chunk's ``usage`` -> ``UsageReported``; when the server sends none, or the
  stream breaks, usage is counted by us and marked ``estimated``.
* HTTP errors, a dropped connection, an ``error`` object in the stream -> ``Failed``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from openai._constants import RAW_RESPONSE_HEADER

from agentcreator.llm._openai_common import broken_stream, make_client, translate_openai_error
from agentcreator.llm.base import ModelProvider, OpenedStream
from agentcreator.llm.errors import ProviderUnavailable
from agentcreator.llm.sse import SSEDecoder
from agentcreator.llm.tokens import openai_token_counter
from agentcreator.llm.types import (
    ChatMessage,
    Completed,
    Failed,
    FinishReason,
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

DEFAULT_CONTEXT_LENGTH = 8_192
DEFAULT_MAX_OUTPUT_TOKENS = 4_096
_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",
                                    "function_call": "tool_calls", "content_filter": "content_filter"}


def chat_messages(request: ModelRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.instructions:
        out.append({"role": "system", "content": request.instructions})
    for message in request.messages:
        if message.role == "tool":
            out.append({"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.text})
        elif message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": message.text or None}
            if message.tool_calls:
                entry["tool_calls"] = [{"id": call.call_id, "type": "function",
                                        "function": {"name": call.name, "arguments": call.arguments}}
                                       for call in message.tool_calls]
            out.append(entry)
        elif not message.images:
            out.append({"role": "user", "content": message.text})
        else:
            parts: list[dict[str, Any]] = []
            for part in message.content:
                if isinstance(part, TextPart):
                    parts.append({"type": "text", "text": part.text})
                elif isinstance(part, ImagePart):
                    parts.append({"type": "image_url", "image_url": {"url": part.url, "detail": part.detail}})
            out.append({"role": "user", "content": parts})
    return out


def request_params(request: ModelRequest) -> dict[str, Any]:
    params: dict[str, Any] = {"model": request.model, "messages": chat_messages(request),
                              "stream_options": {"include_usage": True}}
    if request.tools:
        params["tools"] = [{"type": "function", "function": {"name": tool.name, "description": tool.description,
                                                             "parameters": tool.parameters}}
                           for tool in request.tools]
        if request.tool_choice is not None:
            params["tool_choice"] = request.tool_choice
    if request.max_output_tokens is not None:
        params["max_tokens"] = request.max_output_tokens  # the field every compatible server knows
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.top_p is not None:
        params["top_p"] = request.top_p
    return params


def request_body(request: ModelRequest) -> bytes:
    """The streaming request as sent: JSON, UTF-8."""
    params = {**request_params(request), "stream": True}
    return json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class _Call:
    index: int
    call_id: str
    name: str
    arguments: list[str] = field(default_factory=list)


@dataclass
class _ChatMapper:
    calls: dict[int, _Call] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)
    finish: str | None = None
    usage: Usage | None = None

    def feed(self, chunk: dict[str, Any]) -> list[str | StreamEvent]:
        """One chunk as the server sent it (a plain dict); text comes out as plain strings, for the
        reader to join with the text of the same network read."""
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            details = usage.get("prompt_tokens_details") or {}
            completion = usage.get("completion_tokens_details") or {}
            self.usage = Usage(input_tokens=usage.get("prompt_tokens") or 0,
                               output_tokens=usage.get("completion_tokens") or 0,
                               cached_input_tokens=details.get("cached_tokens") or 0,
                               reasoning_tokens=completion.get("reasoning_tokens") or 0)
        events: list[str | StreamEvent] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                self.text.append(content)
                events.append(content)
            for tool_delta in delta.get("tool_calls") or ():
                events.extend(self._tool_delta(tool_delta))
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return events

    def _tool_delta(self, tool_delta: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        function = tool_delta.get("function") or {}
        index = tool_delta.get("index", 0)
        call = self.calls.get(index)
        if call is None:
            call = _Call(len(self.calls), tool_delta.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                         function.get("name") or "")
            self.calls[index] = call
            events.append(ToolCallStarted(index=call.index, call_id=call.call_id, name=call.name))
        arguments = function.get("arguments")
        if arguments:
            call.arguments.append(arguments)
            events.append(ToolCallDelta(index=call.index, call_id=call.call_id, arguments_delta=arguments))
        return events

    def finish_reason(self) -> FinishReason:
        reason = _FINISH.get(self.finish or "stop", "stop")
        return "tool_calls" if self.calls and reason == "stop" else reason

    def done_events(self) -> list[StreamEvent]:
        return [ToolCallDone(index=call.index, call_id=call.call_id, name=call.name,
                             arguments="".join(call.arguments) or "{}")
                for call in sorted(self.calls.values(), key=lambda call: call.index)]

    def produced(self) -> str:
        return "".join(self.text) + "".join("".join(call.arguments) for call in self.calls.values())


_RawStream = openai.AsyncStream[object]


async def _read_chunks(response: httpx2.Response, mapper: _ChatMapper) -> AsyncIterator[list[StreamEvent]]:
    """The events of each network read. Text deltas that arrived together become one ``TextDelta``
    (token by token while the platform keeps up; fewer, larger deltas when it falls behind), in order
    with the tool-call events. An ``error`` object in the stream raises ``APIError`` as the SDK does,
    after what came before it."""
    decoder = SSEDecoder()
    done = False
    async for raw in response.aiter_bytes():
        if done:
            continue  # read to the end so the connection can be reused
        events: list[StreamEvent] = []
        text: list[str] = []
        error: openai.APIError | None = None
        for sse in decoder.feed(raw):
            if sse.data.startswith(b"[DONE]"):
                done = True
                break
            chunk = json.loads(sse.data)
            if not isinstance(chunk, dict):
                continue
            if chunk.get("error"):
                error = _stream_error(chunk["error"], response.request)
                break
            for event in mapper.feed(chunk):
                if isinstance(event, str):
                    text.append(event)
                    continue
                if text:
                    events.append(TextDelta(text="".join(text)))
                    text = []
                events.append(event)
        if text:
            events.append(TextDelta(text="".join(text)))
        if events:
            yield events
        if error is not None:
            raise error


async def _events_of(*events: StreamEvent) -> AsyncIterator[StreamEvent]:
    for event in events:
        yield event


def _stream_error(body: Any, request: httpx2.Request) -> openai.APIError:
    message = body.get("message") if isinstance(body, dict) else None
    return openai.APIError(message if isinstance(message, str) and message else "An error occurred during streaming",
                           request, body=body)


# Served models that are plainly not chat models (embeddings, images, speech, moderation, reranking),
# by the names their servers give them: OpenAI, vLLM, Ollama, LM Studio, LiteLLM.
_NOT_CHAT = re.compile(
    r"(embed|dall-e|gpt-image|whisper|tts|transcribe|moderation|rerank|^babbage-|^davinci-|^sora|"
    r"stable-diffusion|^flux|^bge-|^e5-|^clip)", re.IGNORECASE)


def is_chat_model(name: str) -> bool:
    """Whether a model a server lists may be a chat model (not an embedding, image or speech model)."""
    return _NOT_CHAT.search(name) is None


class OpenAICompatibleProvider(ModelProvider):
    def __init__(self, name: str, base_url: str, api_key: str | None = None, *,
                 models: Sequence[ModelSpec] | None = None, discover: bool = True, timeout: float = 600.0,
                 max_retries: int = 2, client: openai.AsyncOpenAI | None = None) -> None:
        """``models`` declares the models (and their context length, vision, tools) since servers
        don't report capabilities; with ``discover`` ``list_models`` also adds what ``GET /models`` lists."""
        self.name = name
        self.base_url = base_url
        self._specs = {spec.name: spec for spec in models or []}
        self._discover = discover
        self._client = client or make_client(api_key=api_key, base_url=base_url, timeout=timeout,
                                             max_retries=max_retries, default_base_url=None)
        self._tokens = openai_token_counter()

    def _info(self, model: str) -> ModelInfo:
        info = ModelInfo(id=f"{self.name}/{model}", provider=self.name, name=model,
                         context_length=DEFAULT_CONTEXT_LENGTH, max_output_tokens=DEFAULT_MAX_OUTPUT_TOKENS)
        spec = self._specs.get(model)
        return spec.apply(info) if spec else info

    async def _remote_names(self) -> list[str]:
        try:
            return [model.id async for model in self._client.models.list()]
        except openai.OpenAIError as exc:
            raise translate_openai_error(exc, self.name) from exc

    async def list_models(self) -> list[ModelInfo]:
        names = list(self._specs)
        if self._discover:  # what the server lists, less what is plainly no chat model (declared ones stay)
            names += [name for name in await self._remote_names() if name not in self._specs and is_chat_model(name)]
        return [self._info(name) for name in names]

    async def check(self) -> None:
        await self._remote_names()

    def count_tokens(self, model: str, messages: Sequence[ChatMessage], instructions: str = "") -> int:
        return self._tokens.count(messages, instructions)

    def _estimate(self, request: ModelRequest, mapper: _ChatMapper) -> Usage:
        return Usage(input_tokens=self.count_tokens(request.model, request.messages, request.instructions),
                     output_tokens=self._tokens.count_text(mapper.produced()), estimated=True)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        events = await self.open_stream(request)
        try:
            async for event in events:
                yield event
        finally:
            await events.aclose()

    async def open_stream(self, request: ModelRequest) -> OpenedStream:
        """Send the request and return once the server answered with its headers; the body is read as
        the events are."""
        mapper = _ChatMapper()
        try:
            # The SDK's low-level post (auth, retries, HTTP errors before the stream) returning the raw
            # response: the body is decoded here, per network read rather than per token. The SDK's
            # ``chat.completions.create`` re-validates its params and builds an object per chunk, which
            # was the largest CPU cost per token of the whole platform (docs/performance.md). The body
            # goes as JSON bytes: a dict is deep-copied and re-encoded by the SDK (~0.3 ms a request).
            upstream = await self._client.post(
                "/chat/completions", content=request_body(request), cast_to=object,
                stream=True, stream_cls=_RawStream, options={"headers": {RAW_RESPONSE_HEADER: "stream"}})
        except openai.OpenAIError as exc:
            return OpenedStream(_events_of(Failed(error=translate_openai_error(exc, self.name).to_info())))
        return OpenedStream(self._events(request, upstream.http_response, mapper),
                            on_close=upstream.http_response.aclose)

    async def _events(self, request: ModelRequest, response: httpx2.Response,
                      mapper: _ChatMapper) -> AsyncIterator[StreamEvent]:
        failure: Failed | None = None
        try:
            async for events in _read_chunks(response, mapper):
                for event in events:
                    yield event
        except openai.OpenAIError as exc:
            failure = Failed(error=translate_openai_error(exc, self.name).to_info())
        except httpx2.TimeoutException:
            failure = Failed(error=ProviderUnavailable(f"Provider '{self.name}' timed out",
                                                       provider=self.name).to_info())
        except (httpx2.HTTPError, OSError, ValueError) as exc:  # a dropped connection, a torn body, bad JSON
            failure = Failed(error=broken_stream(self.name, exc).to_info())
        finally:
            await response.aclose()
        if failure is None and mapper.finish is None:
            failure = Failed(error=broken_stream(self.name).to_info())
        usage = mapper.usage or self._estimate(request, mapper)
        if failure is not None:
            yield UsageReported(usage=usage)
            yield failure
            return
        for event in mapper.done_events():
            yield event
        yield UsageReported(usage=usage)
        yield Completed(finish_reason=mapper.finish_reason(), usage=usage)

    async def aclose(self) -> None:
        await self._client.close()
