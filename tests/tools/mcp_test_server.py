"""A real MCP server for the tests, built with the SDK's own server (``MCPServer``, formerly FastMCP).

Two ways to run it:

- stdio: ``python tests/tools/mcp_test_server.py`` (the tests start it with the venv's python);
- streamable HTTP: :class:`McpHttpServer` serves :func:`build_server`'s app with uvicorn in a thread on a
  free local port, optionally refusing requests without the given headers (to prove secrets are sent).

Tools: ``add`` (structured output), ``echo``, ``fail`` (a tool error), ``picture`` (an image), ``mixed``
(every kind of content, some hostile),
``pid``, ``slow`` (sleeps; writes ``started`` / ``finished`` / ``cancelled`` to a marker file so a test in another
process can see that a cancelled call stopped), ``fs.read`` and ``fs_read`` (names that collide once
sanitized) and a tool with a name longer than the 64 characters a model function name may have.
"""

from __future__ import annotations

import base64
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp.types import EmbeddedResource, ImageContent, ResourceLink, TextContent, TextResourceContents
from pydantic import Field

# A 1x1 transparent PNG.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
LONG_TOOL_NAME = "a_tool_whose_name_is_much_longer_than_a_model_function_name_may_be_in_total"


def build_server(name: str = "test-server") -> MCPServer:
    server = MCPServer(name, instructions="Tools for the Agent Creator test suite.")

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Return the text unchanged.")
    def echo(text: str) -> str:
        return text

    @server.tool(description="Always fails with the given message.")
    def fail(message: str) -> str:
        raise ToolError(message)

    @server.tool(description="A tiny PNG image and a caption.", structured_output=False)
    def picture() -> list[Any]:
        return ["a red dot", Image(data=PNG_1X1, format="png")]

    @server.tool(description="Sleep, recording progress in a marker file.")
    async def slow(seconds: float, marker: str = "") -> str:
        path = Path(marker) if marker else None
        if path:
            path.write_text("started")
        try:
            await anyio.sleep(seconds)
        except BaseException:
            if path:
                path.write_text("cancelled")
            raise
        if path:
            path.write_text("finished")
        return f"slept {seconds}"

    @server.tool(description="Content of every kind, some of it hostile.", structured_output=False)
    def mixed() -> list[Any]:
        return [
            TextContent(type="text", text="mixed bag"),
            ImageContent(type="image", mime_type="image/svg+xml",
                         data=base64.b64encode(b"<svg onload='alert(1)'/>").decode()),
            ImageContent(type="image", mime_type="image/png", data="not base64!"),
            ImageContent(type="image", mime_type="image/png", data=base64.b64encode(PNG_1X1 * 100).decode()),
            ResourceLink(type="resource_link", uri="file:///srv/report.pdf", name="report",
                         mime_type="application/pdf"),
            EmbeddedResource(type="resource", resource=TextResourceContents(uri="memo://1", text="embedded memo")),
        ]

    @server.tool(description="A tool whose input schema is too large for a model's context.")
    def huge_schema(value: Annotated[str, Field(description="x" * 60_000)] = "") -> str:
        return value

    @server.tool(description="The server process's id.")
    def pid() -> int:
        return os.getpid()

    @server.tool(name="fs.read", description="Dotted name.")
    def fs_read_dotted(path: str) -> str:
        return f"dotted:{path}"

    @server.tool(name="fs_read", description="Underscored name.")
    def fs_read_underscored(path: str) -> str:
        return f"underscored:{path}"

    @server.tool(name=LONG_TOOL_NAME, description="A long name.")
    def long_name() -> str:
        return "long"

    return server


class _RequireHeaders:
    """ASGI middleware: 401 unless every required header has its value (what a protected server does)."""

    def __init__(self, app: Any, required: dict[str, str]) -> None:
        self.app = app
        self.required = {k.lower().encode(): v.encode() for k, v in required.items()}
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            self.seen.append({k.decode(): v.decode() for k, v in headers.items()})
            if any(headers.get(k) != v for k, v in self.required.items()):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await self.app(scope, receive, send)


class McpHttpServer:
    """The test server over streamable HTTP on 127.0.0.1, served by uvicorn in a thread."""

    def __init__(self, required_headers: dict[str, str] | None = None) -> None:
        self.required_headers = required_headers or {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app: _RequireHeaders | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def __enter__(self) -> McpHttpServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.app = _RequireHeaders(build_server().streamable_http_app(), self.required_headers)
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False,
                                                     lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)


if __name__ == "__main__":
    build_server(sys.argv[1] if len(sys.argv) > 1 else "test-server").run("stdio")
