"""A real HTTP server on 127.0.0.1 (aiohttp, on the test loop) for the outbound guard and the tools
that fetch: echo, redirects, big and slow bodies, status codes, an HTML page. Every request is
recorded, so a test can prove that a refused fetch never reached it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ARTICLE = """<!doctype html><html><head><title>Tide pools</title>
<script>var tracking = "do not read me";</script><style>body{color:red}</style></head>
<body><nav>Home | About | Contact</nav><article><h1>Tide pools of the north coast</h1>
<p>Tide pools form where the sea leaves water behind in hollows of the rock at low tide.</p>
<p>Sea anemones, hermit crabs and small fish live in them between the tides, and the pools are
warmer and saltier than the open sea on a sunny afternoon.</p>
<p>Visitors should step only on bare rock and put back every stone they turn over.</p>
</article><footer>Copyright footer text</footer></body></html>"""


@dataclass
class LocalHttp:
    host: str = "127.0.0.1"
    port: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)
    routes: dict[str, Any] = field(default_factory=dict)  # extra handlers by path, set by a test
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> LocalHttp:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def paths(self) -> list[str]:
        return [entry["path"] for entry in self.seen]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append({"method": request.method, "path": request.path, "raw_path": request.raw_path,
                          "query": request.query_string,
                          "headers": dict(request.headers), "body": body})
        handler = self.routes.get(request.path) or getattr(self, "_" + request.path.strip("/").split("/")[0]
                                                           .replace("-", "_").replace(".", "_"), None)
        if handler is None:
            return web.Response(status=404, text="no such page")
        return await handler(request, body)

    async def _ok(self, request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(text="hello")

    async def _echo(self, request: web.Request, body: bytes) -> web.StreamResponse:
        return web.json_response({"method": request.method, "path": request.path,
                                  "query": [[k, v] for k, v in request.query.items()],
                                  "headers": dict(request.headers), "body": body.decode()})

    async def _redirect(self, request: web.Request, body: bytes) -> web.StreamResponse:
        status = int(request.query.get("status", "302"))
        return web.Response(status=status, headers={"Location": request.query["to"]})

    async def _loop(self, request: web.Request, body: bytes) -> web.StreamResponse:
        # /loop/N redirects to /loop/N-1 ... /loop/0 answers; /loop/forever never stops.
        step = request.path.rsplit("/", 1)[-1]
        if step == "forever":
            return web.Response(status=302, headers={"Location": "/loop/forever"})
        if int(step) == 0:
            return web.Response(text="arrived")
        return web.Response(status=301, headers={"Location": f"/loop/{int(step) - 1}"})

    async def _big(self, request: web.Request, body: bytes) -> web.StreamResponse:
        size = int(request.query.get("bytes", "2000000"))
        if request.query.get("declared"):
            return web.Response(body=b"x" * size, content_type="text/plain")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})  # chunked: no Content-Length
        await response.prepare(request)
        for _ in range(size // 65536 + 1):
            await response.write(b"x" * 65536)
        await response.write_eof()
        return response

    async def _slow_body(self, request: web.Request, body: bytes) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(200):  # bounded: 200 x 0.1 s
            await response.write(b"tick\n")
            await asyncio.sleep(0.1)
        await response.write_eof()
        return response

    async def _slow_headers(self, request: web.Request, body: bytes) -> web.StreamResponse:
        await asyncio.sleep(float(request.query.get("seconds", "3")))
        return web.Response(text="late")

    async def _status(self, request: web.Request, body: bytes) -> web.StreamResponse:
        code = int(request.path.rsplit("/", 1)[-1])
        return web.Response(status=code, text=request.query.get("text", f"status {code} body"))

    async def _article_html(self, request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(text=ARTICLE, content_type="text/html", charset="utf-8")


async def serve() -> LocalHttp:
    return await LocalHttp().start()
