"""Web search against a fake search API speaking SearXNG's, Brave's and Tavily's wire shapes, and
fetch_page against a local HTML page (its host allow-listed)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agentcreator.core.config import OutboundSettings, WebSearchSettings
from agentcreator.core.outbound import OutboundGuard
from agentcreator.tools import ToolContext, ToolError, ToolRegistry
from agentcreator.tools.web_search import FetchPageTool, WebSearchToolFactory
from tests.local_http import LocalHttp
from tests.tools.search_double import BRAVE_KEY, TAVILY_KEY, SearchDouble

CONTEXT = ToolContext(user_id="u1", conversation_id="c1", assistant_id="a1")


async def tools(settings: WebSearchSettings, *allow: str) -> dict[str, Any]:
    guard = OutboundGuard(OutboundSettings(allow_hosts=list(allow)))
    toolset = await ToolRegistry([WebSearchToolFactory(guard, settings)]).build([{"type": "web_search"}], CONTEXT)
    assert not toolset.skipped, toolset.skipped
    return toolset.tools


def configured(double: SearchDouble, provider: str, key: str | None = None, **extra: Any) -> WebSearchSettings:
    return WebSearchSettings(provider=provider, base_url=double.base, api_key=key, **extra)


EXPECTED_URLS = ["https://en.wikipedia.org/wiki/Tide_pool", "https://parks.example.org/tidepools",
                 "https://tides.example.net/tables"]


@pytest.mark.parametrize("provider, key", [("searxng", None), ("brave", BRAVE_KEY), ("tavily", TAVILY_KEY)])
async def test_each_provider_returns_results_and_citations(search_double: SearchDouble, provider: str,
                                                           key: str | None) -> None:
    found = await tools(configured(search_double, provider, key))
    assert set(found) == {"web_search", "fetch_page"}
    search = found["web_search"]
    assert search.price_key == "self_hosted_web_search" and search.activity == "Searching the web…"
    result = await search.run({"query": "  tide   pools "}, CONTEXT)
    assert [part["url"] for part in result.parts] == EXPECTED_URLS  # the javascript: result is dropped
    first = result.parts[0]
    assert first == {"type": "citation", "url": EXPECTED_URLS[0], "title": "Tide pool - Wikipedia",
                     "snippet": "A tide pool or rock pool is a shallow pool of seawater that forms on the rocky "
                                "intertidal shore."}
    assert result.parts[1]["title"] == "Visiting tide pools & safety"  # entities decoded, tags (Brave) stripped
    assert result.output.startswith("Results for: tide pools\n\n[1] Tide pool - Wikipedia\n" + EXPECTED_URLS[0])
    request = search_double.requests[-1]
    if provider == "searxng":
        assert request["query"] == {"q": "tide pools", "format": "json"}
    elif provider == "brave":
        assert request["query"] == {"q": "tide pools", "count": "5"}
        assert request["headers"]["X-Subscription-Token"] == BRAVE_KEY
    else:
        assert request["json"] == {"query": "tide pools", "max_results": 5, "search_depth": "basic"}
        assert request["headers"]["Authorization"] == f"Bearer {TAVILY_KEY}"


async def test_result_count_is_capped_by_the_admin(search_double: SearchDouble) -> None:
    search = (await tools(configured(search_double, "tavily", TAVILY_KEY, max_results=2)))["web_search"]
    assert search.parameters["properties"]["max_results"]["maximum"] == 2
    result = await search.run({"query": "tides", "max_results": 10}, CONTEXT)
    assert len(result.parts) == 2 and search_double.requests[-1]["json"]["max_results"] == 2
    for bad in [{"query": ""}, {"query": 3}, {}, {"query": "x", "max_results": 0}, {"query": "x", "max_results": "5"}]:
        with pytest.raises(ToolError):
            await search.run(bad, CONTEXT)


@pytest.mark.parametrize("provider, key, status, message", [
    ("brave", "wrong-key", None, "refused this server's credentials (HTTP 401)"),
    ("tavily", "tvly-wrong", None, "refused this server's credentials (HTTP 401)"),
    ("tavily", TAVILY_KEY, 429, "rate limiting"),
    ("brave", BRAVE_KEY, 429, "rate limiting"),
    ("searxng", None, 500, "failed (HTTP 500)"),
])
async def test_provider_errors_are_explained_to_the_model(search_double: SearchDouble, provider: str, key: str | None,
                                                          status: int | None, message: str) -> None:
    search = (await tools(configured(search_double, provider, key)))["web_search"]
    search_double.answer_status = status
    with pytest.raises(ToolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await search.run({"query": "tides"}, CONTEXT)


async def test_a_search_service_that_is_down_is_a_tool_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    search = (await tools(WebSearchSettings(provider="searxng", base_url=f"http://127.0.0.1:{port}")))["web_search"]
    with pytest.raises(ToolError, match="could not be reached"):
        await search.run({"query": "tides"}, CONTEXT)


async def test_no_provider_means_no_tools_and_a_reason() -> None:
    guard = OutboundGuard(OutboundSettings())
    toolset = await ToolRegistry([WebSearchToolFactory(guard, WebSearchSettings())]).build(
        [{"type": "web_search"}], CONTEXT)
    assert not toolset and toolset.skipped == [
        {"type": "web_search", "reason": "web search is not set up on this server (an admin sets WEB_SEARCH__PROVIDER)"}]


def test_incomplete_provider_settings_fail_at_start_up() -> None:
    for values in [{"provider": "searxng"}, {"provider": "brave"}, {"provider": "tavily", "base_url": "http://x"},
                   {"provider": "searxng", "base_url": "ftp://x"}]:
        with pytest.raises(ValidationError):
            WebSearchSettings(**values)


async def test_fetch_page_returns_the_readable_text_with_a_citation(local_http: LocalHttp) -> None:
    fetch = FetchPageTool(OutboundGuard(OutboundSettings(allow_hosts=[local_http.origin])), WebSearchSettings())
    result = await fetch.run({"url": f"{local_http.base}/article.html"}, CONTEXT)
    title = "Tide pools of the north coast"  # trafilatura prefers the article's heading to <title>
    assert result.output.startswith(f"{title}\n{local_http.base}/article.html\n\n")
    assert "Sea anemones, hermit crabs and small fish live in them" in result.output
    for noise in ["do not read me", "color:red", "Home | About", "Copyright footer"]:
        assert noise not in result.output
    assert result.parts == [{"type": "citation", "url": f"{local_http.base}/article.html", "title": title,
                             "snippet": result.parts[0]["snippet"]}]
    assert "Tide pools form where the sea" in result.parts[0]["snippet"]


async def test_fetch_page_cuts_long_text_and_refuses_what_is_not_a_page(local_http: LocalHttp) -> None:
    guard = OutboundGuard(OutboundSettings(allow_hosts=[local_http.origin]))
    fetch = FetchPageTool(guard, WebSearchSettings(page_max_chars=500))
    url = f"{local_http.base}/status/200?text=" + "word%20" * 400
    long = await fetch.run({"url": url}, CONTEXT)
    assert long.output.endswith("[cut: the page has 2,000 characters of text]")
    assert long.output.startswith(url + "\n\nword word") and len(long.output) < len(url) + 600
    with pytest.raises(ToolError, match="HTTP 404"):
        await fetch.run({"url": f"{local_http.base}/missing"}, CONTEXT)
    with pytest.raises(ToolError, match="not a web page but application/json"):
        await fetch.run({"url": f"{local_http.base}/echo"}, CONTEXT)
    with pytest.raises(ToolError, match="too large"):
        await fetch.run({"url": f"{local_http.base}/big?bytes=6000000"}, CONTEXT)


async def test_fetch_page_goes_through_the_guard(local_http: LocalHttp, search_double: SearchDouble) -> None:
    # the search provider's host is admitted for searching, never for fetch_page
    found = await tools(configured(search_double, "searxng"))
    for url in [f"{search_double.base}/search?q=x&format=json", f"http://localhost:{local_http.port}/article.html",
                "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]/", "file:///etc/passwd",
                f"http://127.1:{local_http.port}/article.html"]:
        with pytest.raises(ToolError, match="cannot be read"):
            await found["fetch_page"].run({"url": url}, CONTEXT)
    guard = OutboundGuard(OutboundSettings(allow_hosts=[local_http.origin]))
    fetch = FetchPageTool(guard, WebSearchSettings())
    with pytest.raises(ToolError, match="cannot be read"):
        await fetch.run({"url": f"{local_http.base}/redirect?to=http://169.254.169.254/"}, CONTEXT)
    assert search_double.requests == [] and local_http.paths() == ["/redirect"]
