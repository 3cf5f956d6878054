"""Input that used to kill a response: far-away dates in usage filters (422), malformed resume cursors
on the event stream (400 on SSE, an error frame on the WebSocket, the stream keeps working)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.api.chat_helpers import make_chat, send, sse_events
from tests.api.test_ws import authed, recv, recv_until
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script

FAR_AWAY = [{"to": "9999-12-31"}, {"to": "9999-12-31T23:59:59-05:00"}, {"to": "9999-12-31T23:59:59+14:00"},
            {"from": "0001-01-01"}, {"from": "0001-01-01T00:00:00+05:00"}, {"from": "1900-01-01", "to": "2000-01-01"},
            {"from": "2020-01-01", "to": "3000-01-01T00:00:00Z"}]


@pytest.mark.parametrize("period", FAR_AWAY)
@pytest.mark.parametrize("path", ["/api/usage", "/api/usage/export.csv"])
async def test_usage_periods_far_away_are_422(client: httpx.AsyncClient, alice: UserSession,
                                              period: dict[str, str], path: str) -> None:
    response = await client.get(path, headers=alice.headers, params=period)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert "between" in response.json()["error"]["message"]


async def test_usage_periods_within_the_range_still_work(client: httpx.AsyncClient, alice: UserSession) -> None:
    for period in ({"from": "1971-01-01", "to": "2199-12-31"}, {"to": "2199-12-31T23:59:59-05:00"}):
        assert (await client.get("/api/usage", headers=alice.headers, params=period)).status_code == 200
        export = await client.get("/api/usage/export.csv", headers=alice.headers, params=period)
        assert export.status_code == 200 and export.text.startswith("created_at,")


BAD_CURSORS = ["garbage", "abc:", ":12", "turn:\uff11\uff12", "turn:²", "turn:12-", "turn:1-2-3", "t" * 65 + ":1",
               "turn:" + "9" * 21, "turn:1\n", "turn:0-0 ", "../x:1"]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_malformed_cursor_is_400_on_sse(client: httpx.AsyncClient, alice: UserSession, cursor: str,
                                                openai_double: OpenAIDouble) -> None:
    _, conversation = await make_chat(client, alice)
    url = f"/api/conversations/{conversation['id']}/events"
    by_query = await client.get(url, headers=alice.headers, params={"after": cursor})
    assert by_query.status_code == 400 and by_query.json()["error"]["code"] == "bad_event_id"
    if "\n" not in cursor and not cursor.endswith(" ") and cursor.isascii():  # (not sendable as a header)
        by_header = await client.get(url, headers={**alice.headers, "Last-Event-ID": cursor})
        assert by_header.status_code == 400 and by_header.json()["error"]["code"] == "bad_event_id"


async def test_a_well_formed_cursor_resumes_on_sse(client: httpx.AsyncClient, alice: UserSession,
                                                   openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["One", " two"]))
    _, conversation = await make_chat(client, alice)
    assert (await send(client, alice, conversation["id"], "hi")).status_code == 201
    url = f"/api/conversations/{conversation['id']}/events"
    async with client.stream("GET", url, headers=alice.headers) as response:
        ids = [event.id async for event in sse_events(response)]
    assert len(ids) > 2
    async with client.stream("GET", url, headers={**alice.headers, "Last-Event-ID": ids[1]}) as response:
        assert response.status_code == 200
        assert [event.id async for event in sse_events(response)] == ids[2:]


async def test_a_malformed_cursor_is_an_error_frame_on_the_websocket(
        live_client: httpx.AsyncClient, live_server: str, alice: UserSession, openai_double: OpenAIDouble) -> None:
    openai_double.push(Script(text=["Still", " here"]))
    _, conversation = await make_chat(live_client, alice)
    async with await authed(live_server, alice) as ws:
        for cursor in ["garbage", "turn:²", 12, {"a": 1}]:
            await ws.send(json.dumps({"type": "subscribe", "conversation_id": conversation["id"],
                                      "last_event_id": cursor, "request_id": "r"}))
            frame = await recv(ws)
            assert frame["type"] == "error" and frame["error"]["code"] == "bad_event_id", frame
        # The socket still works.
        await ws.send(json.dumps({"type": "send", "conversation_id": conversation["id"], "content": "hello"}))
        frames = await recv_until(ws, lambda f: f.get("event", {}).get("type") == "turn_completed")
    assert "".join(f["event"].get("text", "") for f in frames if f.get("event", {}).get("type") == "text_delta") \
        == "Still here"
