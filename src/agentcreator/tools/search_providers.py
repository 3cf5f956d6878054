"""Web search services the admin can configure (``settings.web_search``): SearXNG's JSON API, Brave
Search and Tavily. Each turns a query into :class:`SearchHit`s (title, URL, snippet) through the
outbound guard; the provider's own host is admitted by the guard because the admin chose it.

Wire shapes:
- SearXNG: ``GET {base}/search?q=&format=json`` (the instance must enable the json format) ->
  ``{"results": [{"url", "title", "content", ...}], ...}``
- Brave: ``GET {base}/res/v1/web/search?q=&count=`` with ``X-Subscription-Token`` ->
  ``{"web": {"results": [{"title", "url", "description", ...}]}, ...}`` (snippets carry <strong>)
- Tavily: ``POST {base}/search`` with ``Authorization: Bearer`` and ``{"query", "max_results"}`` ->
  ``{"results": [{"title", "url", "content", "score"}], ...}``
"""

from __future__ import annotations

import html
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from agentcreator.core.config import WebSearchSettings
from agentcreator.core.errors import OutboundError
from agentcreator.core.outbound import OutboundGuard, OutboundResponse
from agentcreator.tools.base import ToolError

DEFAULT_BASE_URLS = {"brave": "https://api.search.brave.com", "tavily": "https://api.tavily.com"}
SEARCH_RESPONSE_BYTES = 2_000_000
_TAG = re.compile(r"<[^>]{0,200}>")


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    snippet: str


class SearchProvider(ABC):
    name: str

    def __init__(self, settings: WebSearchSettings, guard: OutboundGuard) -> None:
        self.settings = settings
        self.base_url = (settings.base_url or DEFAULT_BASE_URLS.get(self.name, "")).rstrip("/")
        parts = urlsplit(self.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self.guard = guard.with_allowed([f"[{parts.hostname}]:{port}" if ":" in (parts.hostname or "")
                                         else f"{parts.hostname}:{port}"])

    @abstractmethod
    async def search(self, query: str, count: int) -> list[SearchHit]: ...

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.guard.fetch(method, self.base_url + path, max_bytes=SEARCH_RESPONSE_BYTES,
                                              total_timeout=self.settings.timeout_seconds, **kwargs)
        except OutboundError as exc:
            raise ToolError(f"The search service could not be reached ({exc.message}). Try again later.") from exc
        _check_status(response)
        try:
            return response.json()
        except ValueError as exc:
            raise ToolError("The search service sent an answer that could not be read (not JSON)") from exc


class SearxngProvider(SearchProvider):
    name = "searxng"

    async def search(self, query: str, count: int) -> list[SearchHit]:
        headers = {"Accept": "application/json"}
        if self.settings.api_key:  # an instance behind a proxy that wants a token
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        data = await self._call("GET", "/search", params={"q": query, "format": "json"}, headers=headers)
        return _hits(_list(data, "results"), "content", count)


class BraveProvider(SearchProvider):
    name = "brave"

    async def search(self, query: str, count: int) -> list[SearchHit]:
        data = await self._call("GET", "/res/v1/web/search", params={"q": query, "count": count},
                                headers={"Accept": "application/json",
                                         "X-Subscription-Token": self.settings.api_key or ""})
        web = data.get("web") if isinstance(data, dict) else None
        return _hits(_list(web, "results"), "description", count)


class TavilyProvider(SearchProvider):
    name = "tavily"

    async def search(self, query: str, count: int) -> list[SearchHit]:
        data = await self._call("POST", "/search", json={"query": query, "max_results": count,
                                                         "search_depth": "basic"},
                                headers={"Authorization": f"Bearer {self.settings.api_key or ''}"})
        return _hits(_list(data, "results"), "content", count)


PROVIDERS: dict[str, type[SearchProvider]] = {p.name: p for p in (SearxngProvider, BraveProvider, TavilyProvider)}


def provider_for(settings: WebSearchSettings, guard: OutboundGuard) -> SearchProvider | None:
    return PROVIDERS[settings.provider](settings, guard) if settings.provider else None


def _check_status(response: OutboundResponse) -> None:
    status = response.status_code
    if response.is_success:
        return
    if status in (401, 403):
        raise ToolError(f"The search service refused this server's credentials (HTTP {status}); web search is "
                        "misconfigured. Tell the user; do not retry.")
    if status == 429:
        raise ToolError("The search service is rate limiting this server (HTTP 429). Try again later or answer "
                        "without searching.")
    raise ToolError(f"The search service failed (HTTP {status}). Try again later.")


def _list(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list):
        raise ToolError("The search service sent an answer without results in the expected shape")
    return value


def _hits(results: list[Any], snippet_key: str, count: int) -> list[SearchHit]:
    hits: list[SearchHit] = []
    for item in results:
        if not isinstance(item, dict):
            continue
        url = str(item.get("url") or "")
        if not url.startswith(("http://", "https://")):
            continue
        hits.append(SearchHit(title=_clean(item.get("title"), 300) or url,
                              url=url[:2000], snippet=_clean(item.get(snippet_key), 600)))
        if len(hits) >= count:
            break
    return hits


def _clean(value: Any, limit: int) -> str:
    text = " ".join(html.unescape(_TAG.sub("", str(value or ""))).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
