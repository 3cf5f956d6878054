from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.local_http import LocalHttp, serve
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
