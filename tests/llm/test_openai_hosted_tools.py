"""OpenAI's hosted tools through the Responses provider (against the HTTP double and the real SDK), and
that a Chat Completions provider never sends them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import openai
import pytest

from agentcreator.llm.base import ensure_capabilities
from agentcreator.llm.errors import CapabilityError
from agentcreator.llm.openai_chat import OpenAICompatibleProvider
from agentcreator.llm.openai_responses import OpenAIResponsesProvider
from agentcreator.llm.types import CitationAdded, Completed, HostedTool, HostedToolCall, ModelInfo
from tests.llm.helpers import collect, of_type, request, terminal, text_of
from tests.llm.openai_double import HostedCallScript, OpenAIDouble, Script, ToolCallScript

ALL_HOSTED = [HostedTool(type="web_search"), HostedTool(type="file_search", vector_store_ids=["vs_abc"]),
              HostedTool(type="code_interpreter")]


@pytest.fixture
async def provider(openai_double: OpenAIDouble) -> AsyncIterator[OpenAIResponsesProvider]:
    provider = OpenAIResponsesProvider("sk-test-key", openai_double.base_url, max_retries=0, timeout=10)
    yield provider
    await provider.aclose()


async def test_hosted_tools_are_sent_with_their_includes(provider: OpenAIResponsesProvider,
                                                        openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["ok"]))
    await collect(provider, request(hosted_tools=ALL_HOSTED, max_hosted_calls=4))
    body = openai_double.last_request.body
    assert body["tools"] == [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_abc"]},
                             {"type": "code_interpreter", "container": {"type": "auto"}}]
    assert body["include"] == ["web_search_call.action.sources", "file_search_call.results",
                               "code_interpreter_call.outputs"]
    assert body["max_tool_calls"] == 4
    openai_double.push(Script(text=["ok"]))
    await collect(provider, request())  # no hosted tools: none of it is sent
    assert not {"tools", "include", "max_tool_calls"} & set(openai_double.last_request.body)


async def test_a_web_search_call_streams_its_status_query_sources_and_citations(
        provider: OpenAIResponsesProvider, openai_double: OpenAIDouble) -> None:
    search = HostedCallScript("web_search", query="weather paris", sources=["https://meteo.example/paris"])
    openai_double.push(Script(hosted_calls=[search], text=["Sunny", "."],
                              citations=[("https://meteo.example/paris", "Paris weather"),
                                         ("https://meteo.example/paris", "Paris weather")]))
    events = await collect(provider, request(hosted_tools=[HostedTool(type="web_search")]))
    calls = of_type(events, HostedToolCall)
    assert [(c.call_id, c.status, c.done) for c in calls] == [
        (search.item_id, "in_progress", False), (search.item_id, "in_progress", False),
        (search.item_id, "searching", False), (search.item_id, "completed", False),
        (search.item_id, "completed", True)]
    final = calls[-1]
    assert final.tool == "web_search"
    assert json.loads(final.arguments) == {"query": "weather paris", "queries": ["weather paris"]}
    assert final.results == [{"type": "citation", "url": "https://meteo.example/paris",
                              "title": "https://meteo.example/paris"}]
    # The text's url_citation annotations become citations, once per URL.
    assert of_type(events, CitationAdded) == [CitationAdded(url="https://meteo.example/paris", title="Paris weather")]
    assert text_of(events) == "Sunny."
    end = terminal(events)
    assert isinstance(end, Completed) and end.finish_reason == "stop"  # hosted calls are not ours to run


async def test_file_search_and_code_interpreter_calls(provider: OpenAIResponsesProvider,
                                                     openai_double: OpenAIDouble) -> None:
    found = HostedCallScript("file_search", query="refund policy", results=[
        {"file_id": "file-1", "filename": "policy.pdf", "score": 0.9, "text": "Refunds   within 30 days."}])
    code = HostedCallScript("code_interpreter", code=["print(", "6*7)"], logs="42\n", container_id="cntr_1")
    failed = HostedCallScript("web_search", query="x", status="failed")
    openai_double.push(Script(hosted_calls=[found, code, failed], text=["Done."]))
    events = await collect(provider, request(hosted_tools=ALL_HOSTED))
    done = {c.call_id: c for c in of_type(events, HostedToolCall) if c.done}
    assert json.loads(done[found.item_id].arguments) == {"queries": ["refund policy"]}
    assert done[found.item_id].results == [{"type": "citation", "title": "policy.pdf", "filename": "policy.pdf",
                                            "snippet": "Refunds within 30 days.", "score": 0.9}]
    assert json.loads(done[code.item_id].arguments) == {"code": "print(6*7)"}
    assert done[code.item_id].results == [{"type": "logs", "logs": "42\n"}]
    assert done[code.item_id].container_id == "cntr_1"
    statuses = [c.status for c in of_type(events, HostedToolCall) if c.call_id == code.item_id]
    assert "interpreting" in statuses
    assert done[failed.item_id].status == "failed"
    assert isinstance(terminal(events), Completed)


async def test_a_function_call_next_to_a_hosted_call_still_asks_for_tools(
        provider: OpenAIResponsesProvider, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(hosted_calls=[HostedCallScript("web_search", query="q")],
                              tool_calls=[ToolCallScript("add", ['{"a": 1}'])]))
    events = await collect(provider, request(hosted_tools=[HostedTool(type="web_search")]))
    end = terminal(events)
    assert isinstance(end, Completed) and end.finish_reason == "tool_calls"


async def test_the_double_streams_hosted_calls_the_sdk_accepts(openai_double: OpenAIDouble) -> None:
    """The SDK's own stream helper accumulates the double's hosted items and annotations."""
    openai_double.push(Script(hosted_calls=[HostedCallScript("web_search", query="q", sources=["https://a.example/"])],
                              text=["A."], citations=[("https://a.example/", "A")]))
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=openai_double.base_url, max_retries=0)
    try:
        async with client.responses.stream(model="gpt-4o-mini", input="hi", tools=[{"type": "web_search"}],
                                           include=["web_search_call.action.sources"]) as stream:
            async for _ in stream:
                pass
            final = await stream.get_final_response()
    finally:
        await client.close()
    assert [item.type for item in final.output] == ["web_search_call", "message"]
    assert final.output[0].action.sources[0].url == "https://a.example/"  # type: ignore[union-attr]
    assert final.output[1].content[0].annotations[0].url == "https://a.example/"  # type: ignore[union-attr]


async def test_a_chat_completions_provider_never_sends_hosted_tools(openai_double: OpenAIDouble) -> None:
    provider = OpenAICompatibleProvider("double", openai_double.base_url, "sk-x", max_retries=0, timeout=10)
    try:
        assert provider.hosted_tool_types == frozenset()
        openai_double.push(Script(text=["plain"]))
        events = await collect(provider, request(hosted_tools=ALL_HOSTED, max_hosted_calls=3))
    finally:
        await provider.aclose()
    assert text_of(events) == "plain"
    body = openai_double.last_request.body
    assert "tools" not in body and "include" not in body and "max_tool_calls" not in body


def test_capabilities_refuse_hosted_tools_a_model_does_not_declare() -> None:
    info = ModelInfo(id="double/m", provider="double", name="m", context_length=1000, max_output_tokens=100,
                     tools=True, hosted_tools=["web_search"])
    ensure_capabilities(info, request(hosted_tools=[HostedTool(type="web_search")]))
    with pytest.raises(CapabilityError, match="code_interpreter"):
        ensure_capabilities(info, request(hosted_tools=[HostedTool(type="code_interpreter")]))


async def test_untrusted_sources_and_citations_become_web_links_only(provider: OpenAIResponsesProvider,
                                                                     openai_double: OpenAIDouble) -> None:
    """What a searched page talks the model into citing ends up as a link in the browser: only http(s)
    URLs of a sane length pass, and titles are cut."""
    bad = ["javascript:alert(document.cookie)", "data:text/html,<script>x</script>", "JAVASCRIPT://%0aalert(1)",
           "https://example.com/" + "a" * 3000]
    openai_double.push(Script(
        hosted_calls=[HostedCallScript("web_search", query="q", sources=[*bad, "HTTPS://ok.example/"])],
        text=["T."], citations=[(url, "x") for url in bad] + [("https://ok.example/", "T" * 1000)]))
    events = await collect(provider, request(hosted_tools=[HostedTool(type="web_search")]))
    done = next(c for c in of_type(events, HostedToolCall) if c.done)
    assert [r["url"] for r in done.results] == ["HTTPS://ok.example/"]
    citations = of_type(events, CitationAdded)
    assert [(c.url, len(c.title)) for c in citations] == [("https://ok.example/", 300)]
