"""A small per-process pool of MCP client sessions, with idle close and a short tool-list cache.

One session per server configuration (:attr:`McpServerConfig.key`), shared by concurrent calls (the
protocol multiplexes requests). A session unused for ``idle_close_seconds`` closes; at
``max_open_sessions`` the least recently used idle one closes to make room. A call that fails at the
transport level drops its session, and the next call opens a new one. Built once in the app's lifespan
(``AppState``) and closed with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from mcp import Client, MCPError
from mcp.types import CONNECTION_CLOSED, CallToolResult
from pydantic import ValidationError

from agentcreator.core.config import McpSettings
from agentcreator.tools.mcp.config import McpServerConfig, McpToolError, McpToolInfo
from agentcreator.tools.mcp.connection import McpConnection
from agentcreator.tools.mcp.reasons import describe

log = logging.getLogger(__name__)

MAX_LIST_PAGES = 50


class McpClientPool:
    def __init__(self, settings: McpSettings) -> None:
        self.settings = settings
        self._sessions: dict[str, McpConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tools: dict[str, tuple[float, list[McpToolInfo]]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def open_sessions(self) -> int:
        return sum(1 for s in self._sessions.values() if s.alive)

    async def list_tools(self, config: McpServerConfig, *, refresh: bool = False) -> list[McpToolInfo]:
        """The server's tools, from the cache when fresh (``tools_cache_seconds``)."""
        cached = self._tools.get(config.key)
        if cached and not refresh and cached[0] > time.monotonic():
            return cached[1]
        tools = await self._request(config, self._fetch_tools, what="list its tools")
        self._tools[config.key] = (time.monotonic() + self.settings.tools_cache_seconds, tools)
        return tools

    async def call_tool(self, config: McpServerConfig, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """Call one tool (``call_timeout_seconds``). Cancelling the caller cancels the call."""

        async def call(client: Client) -> CallToolResult:
            return await client.call_tool(name, arguments)

        return await self._request(config, call, what=f"run {name}")

    async def probe(self, config: McpServerConfig) -> list[McpToolInfo]:
        """Connect afresh (not through the pool), list the tools, close: the admin's connection test."""
        session = McpConnection(config)
        await session.open()
        try:
            tools = await self._run(config, session, self._fetch_tools, what="list its tools")
        finally:
            await session.close()
        self._tools[config.key] = (time.monotonic() + self.settings.tools_cache_seconds, tools)
        return tools

    def forget(self, server_id: str) -> None:
        """Close the sessions and drop the cached tools of a server (edited, disabled or deleted)."""
        for key in [k for k in self._sessions if k.split(":", 1)[0] == server_id]:
            self._drop(key, self._sessions[key], drain=True)
        for key in [k for k in self._tools if k.split(":", 1)[0] == server_id]:
            del self._tools[key]
        for key in [k for k in self._locks if k.split(":", 1)[0] == server_id and not self._locks[k].locked()]:
            del self._locks[key]

    async def reset(self) -> None:
        """Close every session (waiting for them) and forget the cached tool lists; the pool stays usable."""
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.wait({self._reaper})
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(s.close() for s in sessions))
        if self._closing:
            await asyncio.wait(set(self._closing))
        self._tools.clear()

    async def aclose(self) -> None:
        self._closed = True
        await self.reset()

    async def _request(self, config: McpServerConfig, request: Any, *, what: str) -> Any:
        session = await self._session(config)
        try:
            return await self._run(config, session, request, what=what)
        except McpToolError as exc:
            if exc.code == "mcp_unreachable":  # the connection broke: a new session next time
                self._drop(config.key, session)
            raise

    async def _run(self, config: McpServerConfig, session: McpConnection, request: Any, *, what: str) -> Any:
        """``request`` on ``session`` within the call timeout, every failure as an :class:`McpToolError`."""
        http_errors = session.http_errors
        try:
            async with asyncio.timeout(config.call_timeout_seconds):
                return await session.run(request)
        except TimeoutError as exc:
            raise _timeout(config, what) from exc
        except McpToolError:
            raise
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED or session.http_errors > http_errors or not session.alive:
                # The connection broke (a dead process, an HTTP error status).
                reason = session.last_http_error if session.http_errors > http_errors else describe(exc)
                raise McpToolError(f"MCP server '{config.name}' failed to {what}: {reason}",
                                   code="mcp_unreachable") from exc
            raise _refused(config, what, exc) from exc  # the server answered with a JSON-RPC error
        except ValidationError as exc:  # a reply that breaks the protocol
            raise _refused(config, what, exc) from exc
        except Exception as exc:  # the transport broke
            raise McpToolError(f"MCP server '{config.name}' failed to {what}: {describe(exc)}",
                               code="mcp_unreachable") from exc

    async def _session(self, config: McpServerConfig) -> McpConnection:
        if self._closed:
            raise McpToolError("MCP client pool is closed", code="mcp_unreachable")
        session = self._sessions.get(config.key)
        if session is not None and session.alive:
            return session
        lock = self._locks.setdefault(config.key, asyncio.Lock())
        async with lock:
            session = self._sessions.get(config.key)
            if session is not None and session.alive:
                return session
            if session is not None:
                self._drop(config.key, session)
            self._make_room()
            session = McpConnection(config)
            await session.open()
            self._sessions[config.key] = session
            self._start_reaper()
            return session

    def _make_room(self) -> None:
        excess = len(self._sessions) - self.settings.max_open_sessions + 1
        idle = sorted((s for s in self._sessions.values() if not s.in_flight), key=lambda s: s.last_used)
        for session in idle[:max(0, excess)]:
            self._drop(session.config.key, session)

    def _drop(self, key: str, session: McpConnection, *, drain: bool = False) -> None:
        """Forget a session and close it in the background (tracked: ``aclose`` waits for it); with
        ``drain``, once its calls in flight are done."""
        if self._sessions.get(key) is session:
            del self._sessions[key]
        task = asyncio.create_task(session.close(drain=drain), name=f"mcp-close:{session.config.name}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap(), name="mcp-pool-reaper")

    async def _reap(self) -> None:
        interval = min(30.0, self.settings.idle_close_seconds / 4)
        while self._sessions:
            await asyncio.sleep(interval)
            for key, session in list(self._sessions.items()):
                if not session.alive or session.idle_for >= self.settings.idle_close_seconds:
                    self._drop(key, session)

    async def _fetch_tools(self, client: Client) -> list[McpToolInfo]:
        tools: list[McpToolInfo] = []
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools.extend(McpToolInfo(name=t.name, title=t.title, description=t.description or "",
                                     input_schema=dict(t.input_schema or {})) for t in page.tools)
            cursor = page.next_cursor
            if not cursor or len(tools) >= self.settings.max_tools_per_server:
                break
        if len(tools) > self.settings.max_tools_per_server:
            log.warning("MCP server lists %d tools; using the first %d", len(tools),
                        self.settings.max_tools_per_server)
        return tools[: self.settings.max_tools_per_server]


def _timeout(config: McpServerConfig, what: str) -> McpToolError:
    return McpToolError(f"MCP server '{config.name}' did not {what} within {config.call_timeout_seconds:g} s",
                        code="mcp_timeout")


def _refused(config: McpServerConfig, what: str, exc: Exception) -> McpToolError:
    return McpToolError(f"MCP server '{config.name}' refused to {what}: {describe(exc)}", code="mcp_refused")
