"""OpenAICompatibleProvider (Chat Completions) against the HTTP double, through the real openai SDK."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from agentcreator.llm.errors import ProviderAuthError, ProviderRateLimited, ProviderUnavailable
from agentcreator.llm.openai_chat import OpenAICompatibleProvider
from agentcreator.llm.types import (
    ChatMessage,
    Completed,
    Failed,
    ImagePart,
    ModelSpec,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolCallStarted,
)
from tests.llm.helpers import (
    WEATHER_TOOL,
    collect,
    first_then_close,
    request,
    terminal,
    text_of,
    tool_calls_done,
    usage_events,
    wait_for_thread_event,
)
from tests.llm.openai_double import HttpError, OpenAIDouble, Script, ToolCallScript


@pytest.fixture
async def provider(openai_double: OpenAIDouble) -> AsyncIterator[OpenAICompatibleProvider]:
    provider = OpenAICompatibleProvider("ollama", openai_double.base_url, max_retries=0, timeout=10,
                                        models=[ModelSpec(name="llama3.2", context_length=131_072, tools=True)])
    yield provider
    await provider.aclose()


async def test_text_stream_with_reported_usage(provider: OpenAICompatibleProvider,
                                               openai_double: OpenAIDouble) -> None:
    script = Script(text=["Bonjour", " tout", " le monde"], input_tokens=17, cached_input_tokens=5)
    openai_double.push(script)
    events = await collect(provider, request(model="llama3.2"))
    assert text_of(events) == "".join(script.text)
    (reported,) = usage_events(events)
    assert not reported.usage.estimated
    assert (reported.usage.input_tokens, reported.usage.cached_input_tokens, reported.usage.output_tokens) == (
        script.input_tokens, script.cached_input_tokens, script.usage_output_tokens)
    end = terminal(events)
    assert isinstance(end, Completed) and end.finish_reason == "stop" and end.usage == reported.usage


async def test_missing_usage_is_estimated(provider: OpenAICompatibleProvider, openai_double: OpenAIDouble) -> None:
    script = Script(text=["A fairly long answer ", "that the server streams ", "without any usage chunk."],
                    include_usage=False)
    openai_double.push(script)
    events = await collect(provider, request(model="llama3.2"))
    end = terminal(events)
    assert isinstance(end, Completed) and end.usage is not None and end.usage.estimated
    expected_output = provider._tokens.count_text("".join(script.text))
    assert end.usage.output_tokens == expected_output > 0
    req = request(model="llama3.2")
    assert end.usage.input_tokens == provider.count_tokens(req.model, req.messages, req.instructions) > 0


async def test_tool_call_accumulation(provider: OpenAICompatibleProvider, openai_double: OpenAIDouble) -> None:
    calls = [ToolCallScript("get_weather", ['{"ci', 'ty": ', '"Berlin"}']),
             ToolCallScript("get_weather", ['{"city": "Bonn"}'])]
    openai_double.push(Script(tool_calls=calls))
    events = await collect(provider, request(model="llama3.2", tools=[WEATHER_TOOL]))
    started = [event for event in events if isinstance(event, ToolCallStarted)]
    assert [(event.index, event.call_id, event.name) for event in started] == [
        (index, call.call_id, call.name) for index, call in enumerate(calls)]
    assert [event.arguments_delta for event in events if isinstance(event, ToolCallDelta) and event.index == 0] == \
        calls[0].arguments
    done = tool_calls_done(events)
    assert [(event.index, event.call_id, json.loads(event.arguments)) for event in done] == [
        (0, calls[0].call_id, {"city": "Berlin"}), (1, calls[1].call_id, {"city": "Bonn"})]
    end = terminal(events)
    assert isinstance(end, Completed) and end.finish_reason == "tool_calls"


@pytest.mark.parametrize(("script", "expected"), [
    (Script(text=["x"]), "stop"),
    (Script(text=["x"], outcome="incomplete"), "length"),
    (Script(text=["x"], outcome="incomplete", incomplete_reason="content_filter"), "content_filter"),
    (Script(tool_calls=[ToolCallScript("get_weather", ["{}"])]), "tool_calls"),
    (Script(tool_calls=[ToolCallScript("get_weather", ["{}"])], finish_reason="stop"), "tool_calls"),  # Ollama
    (Script(tool_calls=[ToolCallScript("get_weather", ["{}"])], finish_reason="function_call"), "tool_calls"),
])
async def test_finish_reason_mapping(provider: OpenAICompatibleProvider, openai_double: OpenAIDouble,
                                     script: Script, expected: str) -> None:
    openai_double.push(script)
    end = terminal(await collect(provider, request(model="llama3.2", tools=[WEATHER_TOOL])))
    assert isinstance(end, Completed) and end.finish_reason == expected


@pytest.mark.parametrize(("error", "kind", "retryable"), [
    (HttpError(401, "Invalid token", type="authentication_error"), ProviderAuthError, False),
    (HttpError(429, "Too many requests", type="rate_limit_error", code="rate_limit_exceeded"), ProviderRateLimited,
     True),
    (HttpError(500, "CUDA out of memory", type="InternalServerError", code="500"), ProviderUnavailable, True),
])
async def test_http_error_before_streaming(provider: OpenAICompatibleProvider, openai_double: OpenAIDouble,
                                           error: HttpError, kind: type, retryable: bool) -> None:
    openai_double.push(Script(http_error=error))
    events = await collect(provider, request(model="llama3.2"))
    assert len(events) == 1
    failed = terminal(events)
    assert isinstance(failed, Failed) and failed.error.code == kind.code
    assert failed.error.retryable is retryable and failed.error.status == error.status
    assert error.message in failed.error.message


async def test_stream_cut_keeps_partial_text_and_estimates_usage(provider: OpenAICompatibleProvider,
                                                                 openai_double: OpenAIDouble) -> None:
    script = Script(text=["alpha ", "beta ", "gamma ", "delta"], cut_after=3)
    openai_double.push(script)
    events = await collect(provider, request(model="llama3.2"))
    assert text_of(events) == "".join(script.text[:3])
    failed = terminal(events)
    assert isinstance(failed, Failed) and failed.error.retryable and failed.error.code == ProviderUnavailable.code
    (reported,) = usage_events(events)
    assert reported.usage.estimated and reported.usage.output_tokens > 0


async def test_error_object_in_stream(provider: OpenAICompatibleProvider, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["so far"], outcome="failed", failure_code="server_error",
                              failure_message="worker died"))
    events = await collect(provider, request(model="llama3.2"))
    failed = terminal(events)
    assert isinstance(failed, Failed) and "worker died" in failed.error.message and failed.error.retryable
    assert text_of(events) == "so far"


async def test_closing_the_stream_disconnects_upstream(provider: OpenAICompatibleProvider,
                                                       openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["first", "never"], stall_after=1, stall_seconds=30))
    first = await first_then_close(provider.stream(request(model="llama3.2")))
    assert first.type == "text_delta"
    assert await wait_for_thread_event(openai_double.last_request.disconnected)


async def test_cancelling_mid_stall(provider: OpenAICompatibleProvider, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["first", "second"], stall_after=1, stall_seconds=30))
    seen = asyncio.Event()

    async def consume() -> None:
        async for _event in provider.stream(request(model="llama3.2")):
            seen.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(seen.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)  # a hang guard only: the double would stall for 30 s
    assert await wait_for_thread_event(openai_double.last_request.disconnected)


async def test_request_body_shape(provider: OpenAICompatibleProvider, openai_double: OpenAIDouble) -> None:
    image = "https://example.com/cat.png"
    call = ToolCall(call_id="call_1", name="get_weather", arguments='{"city": "Oslo"}')
    req = request(model="llama3.2", max_output_tokens=64, top_p=0.9, tools=[WEATHER_TOOL], messages=[
        ChatMessage.user("plain text"),
        ChatMessage(role="user", content=[TextPart(text="and this?"), ImagePart(url=image)]),
        ChatMessage.assistant("", [call]),
        ChatMessage.tool("call_1", "rain")])
    await collect(provider, req)
    body = openai_double.last_request.body
    assert openai_double.last_request.headers["content-type"] == "application/json"  # sent as JSON bytes
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 64 and body["top_p"] == 0.9 and "temperature" not in body
    assert body["tools"] == [{"type": "function", "function": {
        "name": WEATHER_TOOL.name, "description": WEATHER_TOOL.description, "parameters": WEATHER_TOOL.parameters}}]
    assert body["messages"] == [
        {"role": "system", "content": req.instructions},
        {"role": "user", "content": "plain text"},
        {"role": "user", "content": [{"type": "text", "text": "and this?"},
                                     {"type": "image_url", "image_url": {"url": image, "detail": "auto"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "rain"},
    ]


async def test_no_api_key_is_fine(openai_double: OpenAIDouble) -> None:
    provider = OpenAICompatibleProvider("lmstudio", openai_double.base_url, max_retries=0)
    try:
        response = await provider.complete(request(model="any"))
    finally:
        await provider.aclose()
    assert response.text == "".join(openai_double.default_script.text)
    assert "authorization" in openai_double.last_request.headers


async def test_list_models_merges_declared_and_served(provider: OpenAICompatibleProvider,
                                                      openai_double: OpenAIDouble) -> None:
    openai_double.model_ids = ["qwen2.5:7b", "llama3.2"]
    models = {info.name: info for info in await provider.list_models()}
    assert set(models) == {"qwen2.5:7b", "llama3.2"}
    assert models["llama3.2"].context_length == 131_072 and models["llama3.2"].tools  # declared override
    assert not models["qwen2.5:7b"].tools and not models["qwen2.5:7b"].vision  # nothing declared: conservative
    assert models["qwen2.5:7b"].id == "ollama/qwen2.5:7b"


async def test_listed_models_leave_out_what_is_plainly_no_chat_model(provider: OpenAICompatibleProvider,
                                                                     openai_double: OpenAIDouble) -> None:
    openai_double.model_ids = ["gpt-4o-mini", "text-embedding-3-small", "nomic-embed-text", "dall-e-3",
                               "gpt-image-1", "whisper-1", "tts-1-hd", "omni-moderation-latest", "bge-reranker-v2",
                               "babbage-002", "qwen2.5:7b", "mistral-embed-declared"]
    names = {info.name for info in await provider.list_models()}
    assert names == {"gpt-4o-mini", "qwen2.5:7b", "llama3.2"}  # llama3.2 is declared (and not served)


async def test_list_models_when_server_is_down_raises_typed_error() -> None:
    provider = OpenAICompatibleProvider("vllm", "http://127.0.0.1:9/v1", max_retries=0, timeout=5)
    try:
        with pytest.raises(ProviderUnavailable, match="vllm"):
            await provider.list_models()
    finally:
        await provider.aclose()


# --- open_stream: the request goes out before the events are read (a turn's start sends it) -------

async def test_open_stream_sends_the_request_before_anything_is_read(provider: OpenAICompatibleProvider,
                                                                      openai_double: OpenAIDouble) -> None:
    script = Script(text=["opened", " early"])
    openai_double.push(script)
    opened = await provider.open_stream(request(model="llama3.2"))
    assert len(openai_double.requests) == 1  # on the wire, and answered with its headers
    events = [event async for event in opened]  # read like stream(), here from the same task
    assert text_of(events) == "opened early"
    assert isinstance(terminal(events), Completed)
    await opened.aclose()


async def test_an_opened_stream_closed_unread_disconnects_upstream(provider: OpenAICompatibleProvider,
                                                                   openai_double: OpenAIDouble) -> None:
    """A turn stopped before its runner began closes its call without reading it: the generator never
    started, so the response is closed by the opened stream itself."""
    openai_double.push(Script(text=["never", "read"], stall_after=1, stall_seconds=30))
    opened = await provider.open_stream(request(model="llama3.2"))
    await opened.aclose()
    assert await wait_for_thread_event(openai_double.last_request.disconnected)


async def test_an_http_error_at_open_comes_as_the_events(provider: OpenAICompatibleProvider,
                                                         openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(http_error=HttpError(429, "Slow down", type="rate_limit_error",
                                                   code="rate_limit_exceeded")))
    opened = await provider.open_stream(request(model="llama3.2"))  # never raises
    events = [event async for event in opened]
    assert len(events) == 1
    failed = terminal(events)
    assert isinstance(failed, Failed) and failed.error.code == ProviderRateLimited.code
    await opened.aclose()
