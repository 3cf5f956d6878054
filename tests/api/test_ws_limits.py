"""WebSocket hardening on a real socket: frame size and nesting limits (checked before parsing),
1011 on an unexpected error, token expiry for every action, revocation within a second."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from agentcreator.core.config import ChatSettings
from agentcreator.db.migrate import upgrade
from agentcreator.db.session import create_engine
from agentcreator.db.types import new_id
from agentcreator.main import create_app
from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat
from tests.api.test_ws import authed, recv, ws_url
from tests.conftest import PASSWORD, UserSession, make_settings, register_and_sign_in


async def _closed_with(ws: Any, within: float = 5) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await recv(ws, within=within)
    assert closed.value.rcvd is not None, "the socket was dropped without a close frame"
    return closed.value.rcvd.code


async def test_a_frame_over_the_body_limit_is_refused_with_1009(live_server: str, alice: UserSession,
                                                                app_state: AppState) -> None:
    limit = app_state.settings.limits.max_body_bytes
    big = json.dumps({"type": "ping", "pad": "x" * (limit + 10)})
    async with await authed(live_server, alice) as ws:
        await ws.send(big)
        assert await _closed_with(ws) == 1009
    async with connect(ws_url(live_server), max_size=None) as ws:  # before authentication too
        await ws.send(json.dumps({"type": "auth", "token": "x" * (limit + 10)}))
        assert await _closed_with(ws) == 1009
    async with await authed(live_server, alice) as ws:  # just under the limit is fine
        await ws.send(json.dumps({"type": "ping", "pad": "x" * (limit - 100)}))
        assert await recv(ws) == {"type": "pong"}


async def test_a_frame_nested_too_deep_is_refused_with_1008(live_server: str, alice: UserSession,
                                                            app_state: AppState) -> None:
    depth = 100_000  # 200 KB: under the size limit; json.loads raised RecursionError on it
    async with await authed(live_server, alice) as ws:
        await ws.send('{"type": "ping", "x": ' + "[" * depth + "]" * depth + "}")
        assert await _closed_with(ws) == 1008
    limit = app_state.settings.limits.max_json_depth
    async with await authed(live_server, alice) as ws:
        await ws.send('{"type": "ping", "x": ' + "[" * (limit + 1) + "]" * (limit + 1) + "}")
        assert await _closed_with(ws) == 1008
    async with await authed(live_server, alice) as ws:
        # Brackets inside strings are text, and nesting up to the limit is fine.
        await ws.send(json.dumps({"type": "ping", "x": "[{" * 5000, "y": "\\\"[", "z": json.loads(
            "[" * (limit - 1) + "]" * (limit - 1))}))
        assert await recv(ws) == {"type": "pong"}
        await ws.send("{not json")
        assert (await recv(ws))["error"]["code"] == "bad_frame"  # a bad frame alone keeps the socket


@pytest.fixture
async def breakable_server(tmp_path: Path) -> AsyncIterator[tuple[str, AppState, Path]]:
    """An app on its own SQLite database (in its own directory), served by uvicorn: the test can take
    the database away."""
    (tmp_path / "db").mkdir()
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'db' / 'breakable.db'}", tmp_path)
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    await engine.dispose()
    state = AppState.build(settings)
    app = create_app(settings)
    app.state.services = state
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", state, tmp_path / "db"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        await state.close()


async def test_an_unexpected_error_closes_with_1011_and_a_log_line(
        breakable_server: tuple[str, AppState, Path], caplog: pytest.LogCaptureFixture) -> None:
    """A real fault: the database goes away under an open socket. The frame that meets it closes the
    socket with 1011 and a log line (an unexpected error used to drop it with no close frame)."""
    base, state, db_dir = breakable_server
    async with httpx.AsyncClient(base_url=base) as client:
        body = await register_and_sign_in(client, "a@example.com", "A", PASSWORD)
        user = UserSession(client, body, "a@example.com", PASSWORD)
        async with await authed(base, user) as ws:
            await state.engine.dispose()
            shutil.rmtree(db_dir)
            with caplog.at_level(logging.ERROR, logger="agentcreator.api.ws"):
                await ws.send(json.dumps({"type": "subscribe", "conversation_id": new_id()}))
                assert await _closed_with(ws) == 1011
    assert any("unexpected error" in record.getMessage() for record in caplog.records)


def _token(app_state: AppState, user: UserSession, seconds: float) -> str:
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    now = datetime.now(UTC)
    claims.update({"iat": int(now.timestamp()), "exp": int((now + timedelta(seconds=seconds)).timestamp())})
    key = hashlib.sha256(("access:" + (app_state.settings.secret_key or "")).encode()).digest()
    return jwt.encode(claims, key, algorithm="HS256")


async def test_every_action_respects_the_token_expiry(live_client: httpx.AsyncClient, live_server: str,
                                                      alice: UserSession, app_state: AppState) -> None:
    _, conversation = await make_chat(live_client, alice)
    subscribe = json.dumps({"type": "subscribe", "conversation_id": conversation["id"], "request_id": "s"})
    async with connect(ws_url(live_server)) as ws:
        await ws.send(json.dumps({"type": "auth", "token": _token(app_state, alice, 2)}))
        assert (await recv(ws))["type"] == "ready"
        await ws.send(subscribe)
        assert (await recv(ws))["type"] == "ack"
        await asyncio.sleep(max(0.0, int(time.time()) + 3 - time.time()))  # past the whole-second expiry
        for frame in (subscribe, json.dumps({"type": "send", "conversation_id": conversation["id"],
                                             "content": "hi", "request_id": "s"})):
            await ws.send(frame)
            refused = await recv(ws)
            assert refused["type"] == "error" and refused["error"]["code"] == "token_expired"
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}
        await ws.send(json.dumps({"type": "auth", "token": alice.access_token, "request_id": "a"}))
        assert (await recv(ws))["of"] == "auth"
        await ws.send(subscribe)
        assert (await recv(ws))["type"] == "ack"


async def test_revocation_reaches_an_open_socket_within_a_second(
        client: httpx.AsyncClient, live_server: str, alice: UserSession, bob: UserSession,
        app_state: AppState) -> None:
    assert ChatSettings().ws_auth_check_seconds <= 0.5
    sockets = [await authed(live_server, alice) for _ in range(3)] + [await authed(live_server, bob)]
    revoked_at = time.monotonic()
    assert (await client.post("/api/auth/logout-all", headers=alice.headers)).status_code == 204
    codes = await asyncio.gather(*(_closed_with(ws, within=1.0) for ws in sockets[:3]))
    assert codes == [1008, 1008, 1008] and time.monotonic() - revoked_at < 1.0
    await sockets[3].send(json.dumps({"type": "ping"}))  # another user's socket stays open
    assert await recv(sockets[3]) == {"type": "pong"}
    await sockets[3].close()
