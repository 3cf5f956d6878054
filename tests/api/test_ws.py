"""The WebSocket transport on a real socket: auth in the first frame, send/stream/stop, revocation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.api.chat_helpers import eventually, make_chat, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script


def ws_url(live_server: str) -> str:
    return live_server.replace("http://", "ws://") + "/api/ws"


async def recv(ws: ClientConnection, within: float = 10) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=within))


async def recv_until(ws: ClientConnection, predicate: Any, within: float = 10) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await recv(ws, within)
        frames.append(frame)
        if predicate(frame):
            return frames


async def authed(live_server: str, user: UserSession) -> ClientConnection:
    ws = await connect(ws_url(live_server))
    await ws.send(json.dumps({"type": "auth", "token": user.access_token}))
    ready = await recv(ws)
    assert ready == {"type": "ready", "user_id": user.id}
    return ws


async def test_send_streams_events_and_a_second_tab_sees_them_too(
        live_client: httpx.AsyncClient, live_server: str, alice: UserSession, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["Hi", " there"]))
    _, conversation = await make_chat(live_client, alice)
    other_tab = await authed(live_server, alice)
    await other_tab.send(json.dumps({"type": "subscribe", "conversation_id": conversation["id"]}))
    assert (await recv(other_tab))["type"] == "ack"
    async with await authed(live_server, alice) as ws:
        await ws.send(json.dumps({"type": "send", "conversation_id": conversation["id"], "content": "hello",
                                  "request_id": "r1"}))
        frames = await recv_until(ws, lambda f: f.get("event", {}).get("type") == "turn_completed")
    assert any(f == {"type": "ack", "request_id": "r1", "of": "send", "conversation_id": conversation["id"]}
               for f in frames)
    events = [f["event"] for f in frames if f["type"] == "event"]
    assert events[0]["type"] == "turn_started" and events[0]["user_message"]["text"] == "hello"
    assert "".join(e["text"] for e in events if e["type"] == "text_delta") == "Hi there"
    seen_by_other = await recv_until(other_tab, lambda f: f.get("event", {}).get("type") == "turn_completed")
    assert next(f["event"]["type"] for f in seen_by_other if f["type"] == "event") == "turn_started"
    await other_tab.close()


async def test_stop_over_the_socket_keeps_the_partial_answer(
        live_client: httpx.AsyncClient, live_server: str, alice: UserSession, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["Never", " ending", " story"], stall_after=1, stall_seconds=30))
    _, conversation = await make_chat(live_client, alice)
    async with await authed(live_server, alice) as ws:
        await ws.send(json.dumps({"type": "send", "conversation_id": conversation["id"], "content": "tell"}))
        await recv_until(ws, lambda f: f.get("event", {}).get("type") == "text_delta")
        await ws.send(json.dumps({"type": "stop", "conversation_id": conversation["id"]}))
        frames = await recv_until(ws, lambda f: f.get("event", {}).get("type") == "turn_stopped")
    stopped = frames[-1]["event"]["message"]
    assert stopped["status"] == "stopped" and stopped["text"] == "Never"


@pytest.mark.parametrize("first_frame", [
    None,  # a first frame that is not JSON
    {"type": "auth", "token": "not-a-jwt"},
    {"type": "auth"},
    {"type": "subscribe", "conversation_id": "x"},
])
async def test_a_wrong_or_missing_token_closes_with_1008(live_server: str, first_frame: Any) -> None:
    async with connect(ws_url(live_server)) as ws:
        await ws.send("not json" if first_frame is None else json.dumps(first_frame))
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_revoked_users_open_socket_is_closed(
        client: httpx.AsyncClient, live_server: str, alice: UserSession) -> None:
    ws = await authed(live_server, alice)
    await ws.send(json.dumps({"type": "ping"}))
    assert await recv(ws) == {"type": "pong"}
    assert (await client.post("/api/auth/logout-all", headers=alice.headers)).status_code == 204
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await recv(ws, within=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_another_users_conversation_is_not_found_over_the_socket(
        live_client: httpx.AsyncClient, live_server: str, alice: UserSession, bob: UserSession,
        openai_double: OpenAIDouble) -> None:
    _, conversation = await make_chat(live_client, alice)
    openai_double.push(Script(text=["private"]))  # alice's last turn stays replayable on the bus
    assert (await send(live_client, alice, conversation["id"], "secret")).status_code == 201
    openai_double.push(Script(text=["Secrets"]))

    async def titled() -> bool:  # the title is written after the answer, with a second call
        return len(openai_double.requests) == 2

    assert await eventually(titled)
    upstream_calls = len(openai_double.requests)
    async with await authed(live_server, bob) as ws:
        for frame in ({"type": "subscribe"}, {"type": "send", "content": "hi"}, {"type": "stop"},
                      {"type": "regenerate", "message_id": "m"}, {"type": "edit", "message_id": "m", "content": "x"}):
            await ws.send(json.dumps(frame | {"conversation_id": conversation["id"], "request_id": "x"}))
            answer = await recv(ws)
            assert answer["type"] == "error" and answer["error"]["code"] == "not_found"
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}  # no event of alice's turn reached bob
    listing = await live_client.get(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers)
    assert [m["text"] for m in listing.json()["data"]] == ["secret", "private"]
    assert len(openai_double.requests) == upstream_calls


async def test_error_frames_carry_the_same_details_as_http_errors(
        live_client: httpx.AsyncClient, live_server: str, alice: UserSession, bob: UserSession,
        openai_double: OpenAIDouble) -> None:
    limited = await live_client.patch(f"/api/admin/budgets/users/{bob.id}", headers=alice.headers,
                                      json={"user_daily_tokens": 1})
    assert limited.status_code == 200, limited.text
    _, conversation = await make_chat(live_client, bob)
    async with await authed(live_server, bob) as ws:
        await ws.send(json.dumps({"type": "send", "conversation_id": conversation["id"], "content": "hello",
                                  "request_id": "b1"}))
        frame = await recv_until(ws, lambda f: f.get("type") == "error")
    error = frame[-1]["error"]
    assert frame[-1]["request_id"] == "b1"
    assert error["code"] == "budget_exceeded" and "daily token budget" in error["message"]
    assert error["details"]["budget"] == "user_daily" and error["details"]["unit"] == "tokens"
    assert not any(r.path.endswith("/chat/completions") for r in openai_double.requests)
