"""OpenAIResponsesProvider against the HTTP double, through the real openai SDK."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import openai
import pytest

from agentcreator.llm.errors import ProviderAuthError, ProviderRateLimited, ProviderUnavailable
from agentcreator.llm.openai_responses import OpenAIResponsesProvider
from agentcreator.llm.types import (
    ChatMessage,
    Completed,
    Failed,
    ImagePart,
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
async def provider(openai_double: OpenAIDouble) -> AsyncIterator[OpenAIResponsesProvider]:
    provider = OpenAIResponsesProvider("sk-test-key", openai_double.base_url, max_retries=0, timeout=10)
    yield provider
    await provider.aclose()


async def test_text_stream(provider: OpenAIResponsesProvider, openai_double: OpenAIDouble) -> None:
    script = Script(text=["The ", "answer ", "is ", "42."], input_tokens=31)
    openai_double.push(script)
    events = await collect(provider, request())
    assert text_of(events) == "".join(script.text)
    assert [event.text for event in events if event.type == "text_delta"] == script.text
    end = terminal(events)
    assert isinstance(end, Completed) and end.finish_reason == "stop"
    assert end.usage is not None and end.usage.input_tokens == script.input_tokens
    assert end.usage.output_tokens == script.usage_output_tokens and not end.usage.estimated
    assert openai_double.last_request.headers["authorization"] == "Bearer sk-test-key"


async def test_tool_call_with_fragmented_arguments(provider: OpenAIResponsesProvider,
                                                   openai_double: OpenAIDouble) -> None:
    call = ToolCallScript("get_weather", ['{"ci', 'ty": "Pa', 'ris"}'])
    openai_double.push(Script(text=["Checking."], tool_calls=[call]))
    events = await collect(provider, request(tools=[WEATHER_TOOL]))
    started = [event for event in events if isinstance(event, ToolCallStarted)]
    assert [(event.index, event.call_id, event.name) for event in started] == [(0, call.call_id, call.name)]
    deltas = [event.arguments_delta for event in events if isinstance(event, ToolCallDelta)]
    assert deltas == call.arguments
    (done,) = tool_calls_done(events)
    assert done.call_id == call.call_id and json.loads(done.arguments) == {"city": "Paris"}
    assert events.index(started[0]) < events.index(done)
    end = terminal(events)
    assert isinstance(end, Completed) and end.finish_reason == "tool_calls"


async def test_two_tool_calls_are_indexed_in_order(provider: OpenAIResponsesProvider,
                                                   openai_double: OpenAIDouble) -> None:
    calls = [ToolCallScript("get_weather", ['{"city":', '"Oslo"}']), ToolCallScript("get_weather", ['{}'])]
    openai_double.push(Script(tool_calls=calls))
    done = tool_calls_done(await collect(provider, request(tools=[WEATHER_TOOL])))
    assert [(event.index, event.call_id, event.arguments) for event in done] == [
        (index, call.call_id, call.full_arguments) for index, call in enumerate(calls)]


async def test_usage_with_cached_and_reasoning_tokens(provider: OpenAIResponsesProvider,
                                                      openai_double: OpenAIDouble) -> None:
    script = Script(text=["ok"], input_tokens=1200, cached_input_tokens=1024, output_tokens=90, reasoning_tokens=64)
    openai_double.push(script)
    events = await collect(provider, request(model="gpt-5-mini"))
    (reported,) = usage_events(events)
    usage = reported.usage
    assert (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens, usage.reasoning_tokens) == (
        script.input_tokens, script.cached_input_tokens, script.output_tokens, script.reasoning_tokens)
    assert terminal(events).usage == usage  # type: ignore[union-attr]


@pytest.mark.parametrize(("error", "kind", "retryable"), [
    (HttpError(401, "Incorrect API key provided", type="invalid_request_error", code="invalid_api_key"),
     ProviderAuthError, False),
    (HttpError(429, "Rate limit reached", type="requests", code="rate_limit_exceeded"), ProviderRateLimited, True),
    (HttpError(429, "You exceeded your current quota", type="insufficient_quota", code="insufficient_quota"),
     ProviderRateLimited, False),
    (HttpError(500, "The server had an error", type="server_error", code=None), ProviderUnavailable, True),
])
async def test_http_error_before_streaming_is_a_failed_event(
        provider: OpenAIResponsesProvider, openai_double: OpenAIDouble, error: HttpError,
        kind: type, retryable: bool) -> None:
    openai_double.push(Script(http_error=error))
    events = await collect(provider, request())
    assert len(events) == 1
    failed = terminal(events)
    assert isinstance(failed, Failed)
    assert failed.error.code == kind.code and failed.error.status == error.status
    assert failed.error.retryable is retryable and error.message in failed.error.message
    with pytest.raises(kind) as raised:  # the drained call raises the same error, typed
        openai_double.push(Script(http_error=error))
        await provider.complete(request())
    assert raised.value.upstream_status == error.status


async def test_sdk_retries_are_configurable(openai_double: OpenAIDouble) -> None:
    provider = OpenAIResponsesProvider("sk-test", openai_double.base_url, max_retries=1, timeout=10)
    fast_retry = {"retry-after-ms": "10"}
    openai_double.push(Script(http_error=HttpError(503, "busy", type="server_error", headers=fast_retry)),
                       Script(text=["second ", "try"]))
    try:
        response = await provider.complete(request())
    finally:
        await provider.aclose()
    assert response.text == "second try"
    assert len(openai_double.requests) == 2


async def test_stream_cut_is_a_retryable_failure_after_the_partial_text(
        provider: OpenAIResponsesProvider, openai_double: OpenAIDouble) -> None:
    script = Script(text=["one ", "two ", "three ", "four"], cut_after=2)
    openai_double.push(script)
    events = await collect(provider, request())
    assert text_of(events) == "".join(script.text[:2])
    failed = terminal(events)
    assert isinstance(failed, Failed) and failed.error.retryable
    assert failed.error.code == ProviderUnavailable.code
    (reported,) = usage_events(events)  # billing still learns about the tokens, marked estimated
    assert reported.usage.estimated and reported.usage.input_tokens > 0


async def test_response_failed_event(provider: OpenAIResponsesProvider, openai_double: OpenAIDouble) -> None:
    script = Script(text=["par", "tial"], outcome="failed", failure_code="server_error",
                    failure_message="The model crashed")
    openai_double.push(script)
    events = await collect(provider, request())
    failed = terminal(events)
    assert isinstance(failed, Failed) and failed.error.retryable
    assert script.failure_message in failed.error.message and script.failure_code in failed.error.message
    assert text_of(events) == "partial"


async def test_error_event(provider: OpenAIResponsesProvider, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["x"], outcome="error_event", failure_code="invalid_prompt",
                              failure_message="Prompt rejected"))
    failed = terminal(await collect(provider, request()))
    assert isinstance(failed, Failed) and not failed.error.retryable
    assert "Prompt rejected" in failed.error.message


@pytest.mark.parametrize(("reason", "finish"), [("max_output_tokens", "length"), ("content_filter", "content_filter")])
async def test_incomplete_response(provider: OpenAIResponsesProvider, openai_double: OpenAIDouble,
                                   reason: str, finish: str) -> None:
    script = Script(text=["cut", " short"], outcome="incomplete", incomplete_reason=reason)  # type: ignore[arg-type]
    openai_double.push(script)
    events = await collect(provider, request(max_output_tokens=16))
    end = terminal(events)
    assert isinstance(end, Completed) and end.finish_reason == finish
    assert end.usage is not None and end.usage.output_tokens == script.usage_output_tokens


async def test_closing_the_stream_disconnects_upstream(provider: OpenAIResponsesProvider,
                                                       openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["first", "never sent"], stall_after=1, stall_seconds=30))
    first = await first_then_close(provider.stream(request()))
    assert first.type == "text_delta" and first.text == "first"  # type: ignore[union-attr]
    assert await wait_for_thread_event(openai_double.last_request.disconnected)


async def test_cancelling_the_consumer_task_disconnects_upstream(provider: OpenAIResponsesProvider,
                                                                 openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["first", "second"], stall_after=1, stall_seconds=30))
    received: list[str] = []
    seen = asyncio.Event()

    async def consume() -> None:
        async for event in provider.stream(request()):
            received.append(event.type)
            seen.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(seen.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)  # a hang guard only: the double would stall for 30 s
    assert received == ["text_delta"]
    assert await wait_for_thread_event(openai_double.last_request.disconnected)


async def test_request_body_shape(provider: OpenAIResponsesProvider, openai_double: OpenAIDouble) -> None:
    call = ToolCall(call_id="call_abc", name="get_weather", arguments='{"city": "Rome"}')
    image = "data:image/png;base64,iVBORw0KGgo="
    req = request(
        messages=[ChatMessage(role="user", content=[TextPart(text="Weather here?"), ImagePart(url=image, detail="low")]),
                  ChatMessage.assistant("Let me check.", [call]),
                  ChatMessage.tool("call_abc", "sunny, 24C")],
        tools=[WEATHER_TOOL], max_output_tokens=4, temperature=0.3)
    await collect(provider, req)
    body = openai_double.last_request.body
    assert body["model"] == req.model and body["instructions"] == req.instructions
    assert body["stream"] is True and body["store"] is False
    assert body["max_output_tokens"] == 16  # raised to the API's minimum
    assert body["temperature"] == 0.3
    assert body["tools"] == [{"type": "function", "name": WEATHER_TOOL.name, "description": WEATHER_TOOL.description,
                              "parameters": WEATHER_TOOL.parameters, "strict": False}]
    assert body["input"] == [
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Weather here?"},
            {"type": "input_image", "image_url": image, "detail": "low"}]},
        {"type": "message", "role": "assistant", "content": "Let me check."},
        {"type": "function_call", "call_id": "call_abc", "name": "get_weather", "arguments": '{"city": "Rome"}'},
        {"type": "function_call_output", "call_id": "call_abc", "output": "sunny, 24C"},
    ]


async def test_reasoning_models_get_no_sampling_parameters(provider: OpenAIResponsesProvider,
                                                           openai_double: OpenAIDouble) -> None:
    await collect(provider, request(model="gpt-5-nano", temperature=0.2, top_p=0.5))
    body = openai_double.last_request.body
    assert "temperature" not in body and "top_p" not in body and body["model"] == "gpt-5-nano"


async def test_complete_drains_the_stream(provider: OpenAIResponsesProvider, openai_double: OpenAIDouble) -> None:
    call = ToolCallScript("get_weather", ['{"city"', ': "Lima"}'])
    openai_double.push(Script(text=["Sure", "."], tool_calls=[call], input_tokens=40))
    response = await provider.complete(request(tools=[WEATHER_TOOL]))
    assert response.text == "Sure." and response.finish_reason == "tool_calls"
    assert [(c.call_id, c.arguments) for c in response.tool_calls] == [(call.call_id, call.full_arguments)]
    assert response.usage is not None and response.usage.input_tokens == 40


async def test_list_models_static_and_discovered(openai_double: OpenAIDouble) -> None:
    static = OpenAIResponsesProvider("sk-test", openai_double.base_url, max_retries=0)
    discovered = OpenAIResponsesProvider("sk-test", openai_double.base_url, max_retries=0, discover=True)
    openai_double.model_ids = ["gpt-4o-mini", "gpt-4o-2024-08-06", "text-embedding-3-small", "whisper-1"]
    try:
        names = [info.name for info in await static.list_models()]
        found = {info.name: info for info in await discovered.list_models()}
    finally:
        await static.aclose()
        await discovered.aclose()
    assert {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5", "gpt-5-nano"} <= set(names)
    assert set(found) == {"gpt-4o-mini", "gpt-4o-2024-08-06"}  # embeddings/audio models are dropped
    assert found["gpt-4o-2024-08-06"].context_length == found["gpt-4o-mini"].context_length == 128_000
    assert found["gpt-4o-mini"].id == "openai/gpt-4o-mini" and found["gpt-4o-mini"].vision


async def test_check_reports_bad_credentials(provider: OpenAIResponsesProvider, openai_double: OpenAIDouble) -> None:
    openai_double.models_error = HttpError(401, "Incorrect API key provided", code="invalid_api_key")
    with pytest.raises(ProviderAuthError, match="Incorrect API key") as raised:
        await provider.check()
    assert isinstance(raised.value.__cause__, openai.AuthenticationError)


async def test_check_reports_unreachable_server() -> None:
    provider = OpenAIResponsesProvider("sk-test", "http://127.0.0.1:9/v1", max_retries=0, timeout=5)
    try:
        with pytest.raises(ProviderUnavailable, match="unreachable"):
            await provider.check()
    finally:
        await provider.aclose()


async def test_double_speaks_the_sdk_stream_helper(openai_double: OpenAIDouble) -> None:
    """The SDK's responses.stream() checks event order (created first, added before deltas)."""
    script = Script(text=["a", "b"], tool_calls=[ToolCallScript("get_weather", ['{"city":"X"}'])])
    openai_double.push(script)
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=openai_double.base_url, max_retries=0)
    try:
        async with client.responses.stream(model="gpt-4o-mini", input="hi") as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_response()
    finally:
        await client.close()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final.output_text == "ab"
    assert [item.type for item in final.output] == ["message", "function_call"]
