"""Fixtures of the tool tests: a local HTTP server, a fake search API, and real MCP servers built with the
SDK's own server (tests/tools/mcp_test_server.py)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agentcreator.core.config import McpSettings
from agentcreator.tools.mcp import McpClientPool, McpServerConfig
from tests.local_http import LocalHttp, serve
from tests.tools.mcp_test_server import McpHttpServer
from tests.tools.search_double import SearchDouble


@pytest.fixture(scope="session")
async def local_http_server() -> AsyncIterator[LocalHttp]:
    server = await serve()
    yield server
    await server.stop()


@pytest.fixture
def local_http(local_http_server: LocalHttp) -> LocalHttp:
    local_http_server.seen.clear()
    local_http_server.routes.clear()
    return local_http_server


@pytest.fixture(scope="session")
async def search_double_server() -> AsyncIterator[SearchDouble]:
    server = await SearchDouble().start()
    yield server
    await server.stop()


@pytest.fixture
def search_double(search_double_server: SearchDouble) -> SearchDouble:
    search_double_server.requests.clear()
    search_double_server.answer_status = None
    return search_double_server


SERVER_SCRIPT = Path(__file__).with_name("mcp_test_server.py")
SECRET_HEADERS = {"Authorization": "Bearer mcp-test-secret"}


@pytest.fixture(scope="session")
def mcp_http() -> Iterator[McpHttpServer]:
    """The test server over streamable HTTP; it refuses requests without ``SECRET_HEADERS``."""
    with McpHttpServer(required_headers=SECRET_HEADERS) as server:
        yield server


def http_config(server: McpHttpServer, **overrides: object) -> McpServerConfig:
    values: dict[str, object] = {"id": "srv-http", "name": "web", "transport": "streamable_http",
                                 "url": server.url, "headers": dict(SECRET_HEADERS),
                                 "call_timeout_seconds": 10.0, "connect_timeout_seconds": 10.0}
    values.update(overrides)
    return McpServerConfig(**values)  # type: ignore[arg-type]


def stdio_config(**overrides: object) -> McpServerConfig:
    """The test server as a subprocess of this interpreter (the project's virtualenv)."""
    values: dict[str, object] = {"id": "srv-stdio", "name": "local", "transport": "stdio",
                                 "command": sys.executable, "args": (str(SERVER_SCRIPT),),
                                 "call_timeout_seconds": 10.0, "connect_timeout_seconds": 20.0}
    values.update(overrides)
    return McpServerConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
async def pool() -> AsyncIterator[McpClientPool]:
    pool = McpClientPool(McpSettings(tools_cache_seconds=60, idle_close_seconds=60))
    yield pool
    await pool.aclose()
