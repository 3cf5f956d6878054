"""Shared fixtures. The database leg is chosen by TEST_DATABASE_URL (SQLite in a temp dir when unset).

With REQUIRE_DATABASE=1 an unreachable database fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from agentcreator.core.config import (
    AuthSettings,
    ChatSettings,
    KnowledgeSettings,
    LLMSettings,
    SandboxSettings,
    Settings,
)
from agentcreator.core.ratelimit import MemoryRateLimiter
from agentcreator.db.base import Base
from agentcreator.db.migrate import upgrade
from agentcreator.db.session import create_engine
from agentcreator.main import create_app
from agentcreator.state import AppState
from tests.llm.openai_double import OpenAIDouble

PASSWORD = "Quiet-Harbor-2041"
# A fresh key per test run: no key that appears in the repository can sign anything (docs/security.md).
TEST_SECRET_KEY = secrets.token_urlsafe(48)


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The leg's database. On MariaDB/PostgreSQL each test session works in its own scratch database
    next to the configured one (created here, dropped at the end), so concurrent runs never collide."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        yield url
        return
    scratch = f"{parsed.database}_run_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    quoted = f"`{scratch}`" if backend == "mysql" else f'"{scratch}"'
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            charset = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if backend == "mysql" else ""
            await conn.execute(text(f"CREATE DATABASE {quoted}{charset}"))
    except Exception as exc:  # noqa: BLE001 - turned into a skip or a failure
        await admin.dispose()
        message = f"database {backend} unreachable: {exc}"
        if os.environ.get("REQUIRE_DATABASE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield parsed.set(database=scratch).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
        await admin.dispose()


async def _drop_everything(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        if conn.dialect.name == "mysql":
            await conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        meta = MetaData()
        await conn.run_sync(meta.reflect)
        await conn.run_sync(meta.drop_all)
        if conn.dialect.name == "mysql":
            await conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


@pytest.fixture(scope="session")
async def migrated_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - turned into a skip or a failure below
        await engine.dispose()
        message = f"database {engine.url.get_backend_name()} unreachable: {exc}"
        if os.environ.get("REQUIRE_DATABASE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    await _drop_everything(engine)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def openai_double_server() -> Any:
    """A real HTTP server speaking OpenAI's Responses and Chat Completions wire formats."""
    with OpenAIDouble() as double:
        yield double


@pytest.fixture
def openai_double(openai_double_server: OpenAIDouble) -> Any:
    openai_double_server.reset()
    yield openai_double_server
    openai_double_server.reset()


def _app_sandbox() -> SandboxSettings:
    """The app's code interpreter in tests: the real sandbox, under a root bubblewrap can reach as a pooled
    uid (pytest's tmp dirs sit under a 0700 directory), with uids apart from tests/sandbox's."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="agentcreator-app-sandbox-"))
    root.chmod(0o711)
    return SandboxSettings(env_dir=Path(__file__).resolve().parent.parent / ".sandbox-env", root_dir=root,
                           uid_base=70_000 + (os.getpid() % 400) * 8, max_sessions=4, nice=0)


def make_settings(database_url: str, tmp_path: Path, double_url: str | None = None, **overrides: Any) -> Settings:
    """Test settings: fast hashing, short grace periods, and (with ``double_url``) two providers that
    talk to the OpenAI double: ``openai`` (Responses API) and ``double`` (Chat Completions)."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "data_dir": tmp_path,
        "secret_key": TEST_SECRET_KEY,
        "auth": AuthSettings(argon2_time_cost=1, argon2_memory_cost=1024),
        # The tests change the providers' table behind the app's back (emptied between tests): no
        # background reloads in the middle of one (test_provider_access checks them by hand).
        "llm": LLMSettings(local_enabled=True, providers_check_seconds=0, compatible_endpoints=[
            {"name": "double", "base_url": double_url,
             "models": [{"name": "gpt-4o-mini", "tools": True}, {"name": "no-tools", "tools": False},
                        {"name": "vision-model", "vision": True}]}]
            if double_url else []),
        "openai_api_key": "sk-test-double" if double_url else None,
        "openai_base_url": double_url,
        # Listeners touch their channel every second: the grace period needs a margin above that.
        "chat": ChatSettings(disconnect_grace_seconds=4.0, heartbeat_seconds=0.5, ws_auth_check_seconds=0.3),
        "sandbox": _app_sandbox(),
        # No background ingestion worker: knowledge tests run jobs themselves (tests/rag/helpers.py).
        "knowledge": KnowledgeSettings(workers=0),
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
async def app_state(migrated_engine: AsyncEngine, database_url: str, openai_double_server: OpenAIDouble,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AppState]:
    settings = make_settings(database_url, tmp_path_factory.mktemp("data"), openai_double_server.base_url)
    state = AppState.build(settings)
    await state.start(recover_interrupted=False)
    yield state
    await state.close()


@pytest.fixture(scope="session")
async def app(app_state: AppState) -> Any:
    application = create_app(app_state.settings)
    application.state.services = app_state  # share the session-wide state, skip the lifespan
    return application


async def _empty_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())


@pytest.fixture(scope="session")
async def live_server(app: Any) -> AsyncIterator[str]:
    """The same app served by a real uvicorn on this event loop (SSE, WebSocket, disconnects)."""
    import asyncio
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)


@pytest.fixture
async def client(app: Any, app_state: AppState, migrated_engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    await app_state.turns.stop_all("shutdown")
    await app_state.chat.drain()  # a previous test's turn may still be writing (its title, its usage)
    await _empty_tables(migrated_engine)
    app_state.billing.invalidate_prices()  # the price table was emptied behind the app's back
    app_state.rate_limiter = MemoryRateLimiter()
    app_state.fair_use.invalidate()  # the saved limits were emptied behind the app's back
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def live_client(client: httpx.AsyncClient, live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    """A real HTTP client against the live server (tables emptied by ``client``)."""
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as c:
        yield c


class UserSession:
    """A registered user and the headers that authenticate them."""

    def __init__(self, client: httpx.AsyncClient, body: dict[str, Any], email: str, password: str) -> None:
        self.client = client
        self.email = email
        self.password = password
        self.user = body["user"]
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]

    @property
    def id(self) -> str:
        return str(self.user["id"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register(client: httpx.AsyncClient, email: str, name: str = "Test",
                   password: str = PASSWORD) -> UserSession:
    """Register (no tokens come back: docs/security.md) and sign in."""
    return UserSession(client, await register_and_sign_in(client, email, name, password), email, password)


async def register_and_sign_in(client: httpx.AsyncClient, email: str, name: str = "Test",
                               password: str = PASSWORD, *, base: str = "") -> dict[str, Any]:
    """The token pair of a new account: registration, then sign-in, as the web app does."""
    response = await client.post(f"{base}/api/auth/register", json={
        "name": name, "email": email, "password": password, "confirmPassword": password})
    assert response.status_code == 202 and response.json()["status"] == "created", response.text
    signed_in = await client.post(f"{base}/api/auth/login", json={"email": email, "password": password})
    assert signed_in.status_code == 200, signed_in.text
    return dict(signed_in.json())


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> UserSession:
    return await register(client, "alice@example.com", "Alice")


@pytest.fixture
async def bob(client: httpx.AsyncClient, alice: UserSession) -> UserSession:
    return await register(client, "bob@example.com", "Bob")
