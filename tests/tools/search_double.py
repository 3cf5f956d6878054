"""A fake web search API on 127.0.0.1 speaking the real response shapes of SearXNG's JSON API
(``GET /search?format=json``), Brave Search (``GET /res/v1/web/search``) and Tavily (``POST /search``),
with their authentication and error answers. ``answer_status`` scripts a failure; requests are
recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BRAVE_KEY = "brave-test-key"
TAVILY_KEY = "tvly-test-key"

DOCS = [
    {"title": "Tide pool - Wikipedia", "url": "https://en.wikipedia.org/wiki/Tide_pool",
     "text": "A tide pool or rock pool is a shallow pool of seawater that forms on the rocky intertidal shore."},
    {"title": "Visiting tide pools &amp; safety", "url": "https://parks.example.org/tidepools",
     "text": "Step only on bare rock. Put back every stone you turn over."},
    {"title": "Not a web result", "url": "javascript:alert(1)", "text": "skipped by the client"},
    {"title": "Tide tables", "url": "https://tides.example.net/tables", "text": "Low tide times for the coast."},
]


@dataclass
class SearchDouble:
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    answer_status: int | None = None  # a scripted error status for the next requests
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> SearchDouble:
        app = web.Application()
        app.router.add_get("/search", self._searxng)
        app.router.add_post("/search", self._tavily)
        app.router.add_get("/res/v1/web/search", self._brave)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _record(self, request: web.Request) -> dict[str, Any]:
        body = await request.read()
        entry = {"method": request.method, "path": request.path, "query": dict(request.query),
                 "headers": dict(request.headers), "json": json.loads(body) if body else None}
        self.requests.append(entry)
        return entry

    async def _searxng(self, request: web.Request) -> web.Response:
        entry = await self._record(request)
        if self.answer_status:
            return web.Response(status=self.answer_status, text="Too Many Requests")
        if entry["query"].get("format") != "json":  # SearXNG answers 403 when the format is not enabled
            return web.Response(status=403, text="Forbidden")
        query = entry["query"].get("q", "")
        results = [{"url": d["url"], "title": d["title"], "content": d["text"], "engine": "duckduckgo",
                    "parsed_url": ["https", d["url"].split("/")[2] if "//" in d["url"] else "", "", "", "", ""],
                    "template": "default.html", "engines": ["duckduckgo"], "positions": [i + 1], "score": 1.0 / (i + 1),
                    "category": "general"} for i, d in enumerate(DOCS)]
        return web.json_response({"query": query, "number_of_results": 0, "results": results, "answers": [],
                                  "corrections": [], "infoboxes": [], "suggestions": ["tide pool animals"],
                                  "unresponsive_engines": []})

    async def _brave(self, request: web.Request) -> web.Response:
        entry = await self._record(request)
        if entry["headers"].get("X-Subscription-Token") != BRAVE_KEY:
            return web.json_response({"type": "ErrorResponse", "error": {
                "id": "c1a2", "status": 401, "code": "SUBSCRIPTION_TOKEN_INVALID",
                "detail": "The provided subscription token is invalid.", "meta": {}}}, status=401)
        if self.answer_status:
            return web.json_response({"type": "ErrorResponse", "error": {
                "id": "r4t3", "status": self.answer_status, "code": "RATE_LIMITED",
                "detail": "Request rate limit exceeded for plan."}}, status=self.answer_status)
        count = int(entry["query"].get("count", "20"))
        results = [{"title": d["title"], "url": d["url"], "is_source_local": False, "is_source_both": False,
                    "description": d["text"].replace("tide pool", "<strong>tide pool</strong>"),
                    "profile": {"name": "Site"}, "language": "en", "family_friendly": True, "type": "search_result",
                    "meta_url": {"scheme": "https", "netloc": "example"}} for d in DOCS[:count]]
        return web.json_response({"type": "search", "query": {"original": entry["query"].get("q", ""),
                                                              "more_results_available": True},
                                  "mixed": {"type": "mixed", "main": []},
                                  "web": {"type": "search", "results": results, "family_friendly": True}})

    async def _tavily(self, request: web.Request) -> web.Response:
        entry = await self._record(request)
        if entry["headers"].get("Authorization") != f"Bearer {TAVILY_KEY}":
            return web.json_response({"detail": {"error": "Unauthorized: missing or invalid API key."}}, status=401)
        if self.answer_status:
            return web.json_response({"detail": {"error": "Rate limit exceeded"}}, status=self.answer_status)
        body = entry["json"] or {}
        results = [{"title": d["title"], "url": d["url"], "content": d["text"], "score": 0.9 - i / 10,
                    "raw_content": None} for i, d in enumerate(DOCS[: body.get("max_results", 5)])]
        return web.json_response({"query": body.get("query"), "follow_up_questions": None, "answer": None,
                                  "images": [], "results": results, "response_time": 0.42})
