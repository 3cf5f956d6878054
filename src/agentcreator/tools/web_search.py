"""The ``web_search`` config type: two tools, ``web_search`` (query -> title, URL and snippet per
result, each result also a citation part) and ``fetch_page`` (a page's readable text, extracted with
trafilatura, fetched through the outbound guard with no extra hosts admitted).

No provider configured (``settings.web_search.provider``): the factory refuses with a reason, and the
registry skips the config with that reason.
"""

from __future__ import annotations

import asyncio
from typing import Any

import trafilatura

from agentcreator.core.config import WebSearchSettings
from agentcreator.core.errors import BlockedDestination, OutboundError, ResponseTooLarge
from agentcreator.core.outbound import OutboundGuard
from agentcreator.tools.base import Tool, ToolContext, ToolError, ToolResult
from agentcreator.tools.search_providers import SearchHit, SearchProvider, provider_for

MAX_QUERY_CHARS = 400
PAGE_MAX_BYTES = 5_000_000
TEXT_TYPES = frozenset({"text/plain", "text/markdown"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})


def citation(url: str, title: str, snippet: str) -> dict[str, Any]:
    return {"type": "citation", "url": url, "title": title, "snippet": snippet}


class WebSearchTool(Tool):
    name = "web_search"
    description = ("Search the web. Returns the top results as title, URL and snippet; read a result in "
                   "full with fetch_page. Cite the URLs you use.")
    price_key = "self_hosted_web_search"  # free until an admin prices it (OpenAI's hosted one: "web_search")
    activity = "Searching the web…"

    def __init__(self, provider: SearchProvider, settings: WebSearchSettings) -> None:
        self.provider = provider
        self.max_results = settings.max_results
        self.timeout_seconds = settings.timeout_seconds + 1
        self.parameters = {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to search for"},
                "max_results": {"type": "integer", "minimum": 1, "maximum": settings.max_results,
                                "description": f"How many results (default {settings.max_results})"},
            },
            "required": ["query"],
        }

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        query = arguments.get("query") if isinstance(arguments, dict) else None
        if not isinstance(query, str) or not query.strip():
            raise ToolError("Give a non-empty query string")
        query = " ".join(query.split())[:MAX_QUERY_CHARS]
        count = arguments.get("max_results")
        count = self.max_results if count is None else count
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ToolError(f"max_results must be a whole number from 1 to {self.max_results}")
        hits = await self.provider.search(query, min(count, self.max_results))
        if not hits:
            return ToolResult(output=f"No results for: {query}", metadata={"provider": self.provider.name})
        return ToolResult(output=_format(query, hits),
                          parts=[citation(hit.url, hit.title, hit.snippet) for hit in hits],
                          metadata={"provider": self.provider.name, "results": len(hits)})


class FetchPageTool(Tool):
    name = "fetch_page"
    description = ("Read a web page: returns its main text (no menus or ads), cut to a maximum length. "
                   "Only public http(s) pages can be read.")
    activity = "Reading a web page…"
    parameters = {"type": "object", "properties": {"url": {"type": "string", "description": "The page's URL"}},
                  "required": ["url"]}

    def __init__(self, guard: OutboundGuard, settings: WebSearchSettings) -> None:
        self.guard = guard
        self.max_chars = settings.page_max_chars
        self.timeout_seconds = guard.settings.total_timeout_seconds + 5  # the extraction after the fetch

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        url = arguments.get("url") if isinstance(arguments, dict) else None
        if not isinstance(url, str) or not url.strip():
            raise ToolError("Give the page's URL as a string")
        try:
            response = await self.guard.fetch("GET", url.strip(), max_bytes=PAGE_MAX_BYTES, headers={
                "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1"})
        except BlockedDestination as exc:
            raise ToolError(f"This URL cannot be read: {exc.message}") from exc
        except ResponseTooLarge as exc:
            raise ToolError(f"The page is too large to read: {exc.message}") from exc
        except OutboundError as exc:
            raise ToolError(f"The page could not be fetched: {exc.message}") from exc
        if not response.is_success:
            raise ToolError(f"The page answered HTTP {response.status_code}")
        kind = response.content_type
        if kind in TEXT_TYPES:
            title, text = "", response.text
        elif kind in HTML_TYPES:
            # without a declared charset, trafilatura reads the page's own <meta charset>
            page = response.text if response.encoding else response.content
            title, text = await asyncio.to_thread(_readable, page, response.url)
        else:
            raise ToolError(f"This is not a web page but {kind}; only HTML and plain text can be read")
        if not text.strip():
            raise ToolError("No readable text was found on this page")
        total = len(text)
        if total > self.max_chars:
            text = text[: self.max_chars] + f"\n[cut: the page has {total:,} characters of text]"
        heading = f"{title}\n{response.url}\n\n" if title else f"{response.url}\n\n"
        snippet = " ".join(text[:300].split())
        return ToolResult(output=heading + text, parts=[citation(response.url, title or response.url, snippet)],
                          metadata={"url": response.url, "chars": total})


def _readable(page: str | bytes, url: str) -> tuple[str, str]:
    text = trafilatura.extract(page, url=url, include_comments=False, include_tables=True,
                               include_links=False, include_images=False) or ""
    metadata = trafilatura.extract_metadata(page)
    title = (metadata.title if metadata is not None and metadata.title else "") or ""
    return " ".join(title.split())[:300], text


def _format(query: str, hits: list[SearchHit]) -> str:
    lines = [f"Results for: {query}"]
    for number, hit in enumerate(hits, 1):
        lines.append(f"\n[{number}] {hit.title}\n{hit.url}" + (f"\n{hit.snippet}" if hit.snippet else ""))
    return "\n".join(lines)


class WebSearchToolFactory:
    """``{"type": "web_search"}`` -> ``web_search`` and ``fetch_page``, or a refusal with the reason."""

    type = "web_search"
    builds_offline = True  # from the config alone (tools/registry)

    def __init__(self, guard: OutboundGuard, settings: WebSearchSettings) -> None:
        self.guard = guard
        self.settings = settings
        self.provider = provider_for(settings, guard)

    async def tools_for(self, config: dict[str, Any], context: ToolContext) -> list[Tool]:
        if self.provider is None:
            raise ToolError("web search is not set up on this server (an admin sets WEB_SEARCH__PROVIDER)")
        return [WebSearchTool(self.provider, self.settings), FetchPageTool(self.guard, self.settings)]
