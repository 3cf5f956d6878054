"""One client session to one MCP server, owned by its own task.

The SDK's sessions live in anyio task groups and cancel scopes, which must be entered and left by the
same task. So a connection has an owner task that opens the transport and the session, waits until it
is told to close, and closes them; callers in any task send requests through the open session. A call
runs in a child task so that the caller can race it against the owner (a server that dies ends the
owner: the call fails at once instead of waiting for its timeout) and cancel it cleanly: the user's
stop cancels the caller, which cancels the call (the SDK then tells the server to cancel the request)
and waits for it to end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation

from agentcreator import __version__
from agentcreator.tools.mcp.config import McpServerConfig, McpToolError
from agentcreator.tools.mcp.reasons import describe, describe_in_full

log = logging.getLogger(__name__)

T = TypeVar("T")
# How long a closing connection may take (the SDK bounds a stdio shutdown at ~6 s: stdin close,
# SIGTERM, SIGKILL) and how long a cancelled call may take to wind down.
CLOSE_TIMEOUT_SECONDS = 10.0
CANCEL_TIMEOUT_SECONDS = 5.0
CLIENT_INFO = Implementation(name="agentcreator", version=__version__)


class McpConnection:
    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self.in_flight = 0
        self.last_used = time.monotonic()
        # HTTP error statuses the server answered (the SDK reports them without the status).
        self.http_errors = 0
        self.last_http_error = ""
        self._client: Client | None = None
        self._failure: BaseException | None = None
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._idle = asyncio.Event()  # no call in flight
        self._idle.set()
        self._owner: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._client is not None and self._owner is not None and not self._owner.done()

    @property
    def idle_for(self) -> float:
        return 0.0 if self.in_flight else time.monotonic() - self.last_used

    async def open(self) -> None:
        """Start the owner task and wait for the session (``connect_timeout_seconds``). Raises
        :class:`McpToolError` when the server cannot be reached; nothing is left running then."""
        self._owner = asyncio.create_task(self._own(), name=f"mcp-session:{self.config.name}")
        try:
            async with asyncio.timeout(self.config.connect_timeout_seconds):
                await self._ready.wait()  # set by the owner once connected, or when it ends
        except TimeoutError as exc:
            await self.close()
            raise McpToolError(f"MCP server '{self.config.name}' did not answer within "
                               f"{self.config.connect_timeout_seconds:g} s", code="mcp_unreachable") from exc
        except asyncio.CancelledError:
            self._abandon()
            raise
        if not self.alive:
            await self.close()
            reason = self.last_http_error or (describe(self._failure) if self._failure else "the session closed")
            raise McpToolError(f"MCP server '{self.config.name}' is unreachable: {reason}",
                               code="mcp_unreachable") from self._failure

    async def run(self, request: Callable[[Client], Awaitable[T]]) -> T:
        """``request(client)`` in a child task, raced against the session's end."""
        client = self._client
        owner = self._owner
        if client is None or owner is None or owner.done():
            raise McpToolError(f"MCP server '{self.config.name}': the session is closed", code="mcp_unreachable")
        self.in_flight += 1
        self._idle.clear()
        call = asyncio.ensure_future(request(client))
        try:
            await asyncio.wait({call, owner}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await self._wind_down(call)
            raise
        finally:
            self.in_flight -= 1
            self.last_used = time.monotonic()
            if not self.in_flight:
                self._idle.set()
        if call.done():
            return call.result()
        await self._wind_down(call)
        reason = describe(self._failure) if self._failure else "the session closed"
        raise McpToolError(f"MCP server '{self.config.name}' went away: {reason}",
                           code="mcp_unreachable") from self._failure

    async def close(self, *, drain: bool = False) -> None:
        """Close the session (a stdio server process exits) and wait for the owner task to end. With
        ``drain``, calls in flight finish first (at most ``call_timeout_seconds``)."""
        owner = self._owner
        if owner is None:
            return
        if drain and self.in_flight:
            idle = asyncio.ensure_future(self._idle.wait())
            await asyncio.wait({idle, owner}, timeout=self.config.call_timeout_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
            idle.cancel()
        self._closing.set()
        if not self._ready.is_set():
            owner.cancel()  # still connecting: nothing to close gracefully
        done, _ = await asyncio.wait({owner}, timeout=CLOSE_TIMEOUT_SECONDS)
        if not done:
            log.warning("MCP session %s did not close within %.0f s; cancelling it", self.config.name,
                        CLOSE_TIMEOUT_SECONDS)
            owner.cancel()
            await asyncio.wait({owner}, timeout=CLOSE_TIMEOUT_SECONDS)

    def _abandon(self) -> None:
        """Cancelled while opening: stop the owner without waiting (the caller is being cancelled)."""
        self._closing.set()
        if self._owner is not None:
            self._owner.cancel()

    async def _wind_down(self, call: asyncio.Future[Any]) -> None:
        call.cancel()
        await asyncio.wait({call}, timeout=CANCEL_TIMEOUT_SECONDS)
        if call.done() and not call.cancelled():
            call.exception()  # retrieved: a failure after cancellation is not worth a warning

    async def _own(self) -> None:
        try:
            async with AsyncExitStack() as stack:
                transport = await self._transport(stack)
                self._client = await stack.enter_async_context(Client(transport, cache=None, client_info=CLIENT_INFO))
                self._ready.set()
                await self._closing.wait()
        except asyncio.CancelledError as exc:
            self._failure = exc
            raise
        except Exception as exc:  # noqa: BLE001 - kept for the callers, who turn it into a tool error
            self._failure = exc
            log.warning("MCP session %s ended: %s", self.config.name, describe_in_full(exc))
        finally:
            self._client = None
            self._ready.set()

    async def _transport(self, stack: AsyncExitStack) -> Any:
        config = self.config
        if config.transport == "stdio":
            if not config.command:
                raise ValueError("no command")
            return stdio_client(StdioServerParameters(command=config.command, args=list(config.args),
                                                      env=dict(config.env) or None))
        if not config.url:
            raise ValueError("no URL")
        http = await stack.enter_async_context(httpx2.AsyncClient(
            headers=config.headers, event_hooks={"response": [self._on_response]},
            timeout=httpx2.Timeout(config.connect_timeout_seconds, read=max(300.0, config.call_timeout_seconds))))
        return streamable_http_client(config.url, http_client=http)

    async def _on_response(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            self.http_errors += 1
            self.last_http_error = f"HTTP {response.status_code} {response.reason_phrase}".strip()
