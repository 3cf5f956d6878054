from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.local_http import LocalHttp, serve


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
