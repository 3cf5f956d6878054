"""Fair use per user: concurrent turns and turns per minute, admin-configurable; over a limit the
answer is 429 with Retry-After and a clear message (an error frame on the WebSocket)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.api.chat_helpers import eventually, make_chat, send
from tests.api.test_ws import authed, recv_until
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script


async def _limits(client: httpx.AsyncClient, admin: UserSession, **limits: int) -> dict:
    response = await client.patch("/api/admin/settings", headers=admin.headers, json=limits)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_defaults_and_only_admins_change_them(client: httpx.AsyncClient, alice: UserSession,
                                                        bob: UserSession) -> None:
    current = (await client.get("/api/admin/settings", headers=alice.headers)).json()
    assert (current["max_concurrent_turns"], current["turns_per_minute"]) == (3, 20)
    assert (await client.patch("/api/admin/settings", headers=bob.headers,
                               json={"turns_per_minute": 1000})).status_code == 403
    for bad in ({"max_concurrent_turns": 0}, {"turns_per_minute": -1}, {"turns_per_minute": "many"}):
        assert (await client.patch("/api/admin/settings", headers=alice.headers, json=bad)).status_code == 422
    changed = await _limits(client, alice, max_concurrent_turns=5)
    assert (changed["max_concurrent_turns"], changed["turns_per_minute"], changed["registration_open"]) == (5, 20, True)


async def test_concurrent_turns_over_the_limit_get_429_until_one_finishes(
        live_client: httpx.AsyncClient, live_server: str, alice: UserSession, bob: UserSession,
        openai_double: OpenAIDouble) -> None:
    await _limits(live_client, alice, max_concurrent_turns=2)
    chats = [(await make_chat(live_client, bob))[1]["id"] for _ in range(3)]
    for _ in range(2):
        openai_double.push(Script(text=["Slow", " answer"], stall_after=1, stall_seconds=30))
    async with await authed(live_server, bob) as ws:
        for conversation_id in chats[:2]:
            await ws.send(json.dumps({"type": "send", "conversation_id": conversation_id, "content": "hi",
                                      "request_id": conversation_id}))
            await recv_until(ws, lambda f, c=conversation_id: f.get("request_id") == c)
        refused = await send(live_client, bob, chats[2], "one more")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_running_turns"
        assert "2 answers running" in refused.json()["error"]["message"]
        assert int(refused.headers["Retry-After"]) > 0
        await ws.send(json.dumps({"type": "send", "conversation_id": chats[2], "content": "hi", "request_id": "3"}))
        frame = await recv_until(ws, lambda f: f.get("request_id") == "3")
        assert frame[-1]["type"] == "error" and frame[-1]["error"]["code"] == "too_many_running_turns"
        # Another user is not affected.
        alice_chat = (await make_chat(live_client, alice))[1]["id"]
        assert (await send(live_client, alice, alice_chat, "hello")).status_code == 201
        # Stopping one of bob's answers gives its place back.
        assert (await live_client.post(f"/api/conversations/{chats[0]}/stop", headers=bob.headers)).status_code == 200

        async def admitted_again() -> bool:
            response = await send(live_client, bob, chats[2], "now")
            return response.status_code == 201
        assert await eventually(admitted_again, within=5)
        await live_client.post(f"/api/conversations/{chats[1]}/stop", headers=bob.headers)


async def test_turns_per_minute_over_the_limit_get_429(client: httpx.AsyncClient, alice: UserSession,
                                                       bob: UserSession, openai_double: OpenAIDouble) -> None:
    await _limits(client, alice, turns_per_minute=2)
    _, conversation = await make_chat(client, bob)
    for text in ("one", "two"):
        assert (await send(client, bob, conversation["id"], text)).status_code == 201
    refused = await send(client, bob, conversation["id"], "three")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_turns"
    assert "2 answers per minute" in refused.json()["error"]["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 61
    messages = (await client.get(f"/api/conversations/{conversation['id']}/thread", headers=bob.headers)).json()
    assert [m["text"] for m in messages["data"] if m["role"] == "user"] == ["one", "two"]  # nothing was saved
    regenerate = await client.post(
        f"/api/conversations/{conversation['id']}/messages/{messages['data'][-1]['id']}/regenerate",
        headers=bob.headers)
    assert regenerate.status_code == 429


async def test_the_websocket_gets_the_same_per_minute_limit(live_client: httpx.AsyncClient, live_server: str,
                                                            alice: UserSession, openai_double: OpenAIDouble) -> None:
    await _limits(live_client, alice, turns_per_minute=1)
    _, conversation = await make_chat(live_client, alice)
    async with await authed(live_server, alice) as ws:
        await ws.send(json.dumps({"type": "send", "conversation_id": conversation["id"], "content": "a"}))
        await recv_until(ws, lambda f: f.get("event", {}).get("type") == "turn_completed")
        await ws.send(json.dumps({"type": "send", "conversation_id": conversation["id"], "content": "b",
                                  "request_id": "b"}))
        frame = (await recv_until(ws, lambda f: f.get("request_id") == "b"))[-1]
        assert frame["type"] == "error" and frame["error"]["code"] == "too_many_turns"


async def test_running_turns_are_counted_in_redis_with_a_lease() -> None:
    """Several workers share the count through Redis; a crashed worker's turns stop counting when
    their lease ends."""
    import asyncio
    import os
    import uuid

    import pytest
    from redis.asyncio import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    from agentcreator.services.fair_use import RedisTurnSlots

    redis = Redis.from_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    try:
        await redis.ping()
    except (RedisConnectionError, OSError) as exc:
        await redis.aclose()
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"redis unreachable: {exc}")
        pytest.skip(f"redis unreachable: {exc}")
    prefix = f"agentcreator-test:{uuid.uuid4().hex}:"
    worker_a, worker_b = RedisTurnSlots(redis, 0.5, prefix), RedisTurnSlots(redis, 0.5, prefix)
    try:
        assert await worker_a.take("u1", "t1", 2) and await worker_b.take("u1", "t2", 2)
        assert not await worker_a.take("u1", "t3", 2)
        assert await worker_b.take("u2", "t4", 2)  # per user
        await worker_a.give_back("u1", "t1")
        assert await worker_b.take("u1", "t3", 2)
        await asyncio.sleep(0.6)  # the leases end (a worker died mid-turn)
        assert await worker_a.take("u1", "t5", 2) and await worker_a.take("u1", "t6", 2)
    finally:
        keys = [key async for key in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_uploads_over_the_per_minute_limit_get_429_and_store_nothing(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: Any) -> None:
    from tests.api.files_helpers import stored_files, upload

    assert (await client.get("/api/admin/settings", headers=alice.headers)).json()["uploads_per_minute"] == 30
    for bad in ({"uploads_per_minute": 0}, {"uploads_per_minute": "lots"}):
        assert (await client.patch("/api/admin/settings", headers=alice.headers, json=bad)).status_code == 422
    assert (await client.patch("/api/admin/settings", headers=bob.headers,
                               json={"uploads_per_minute": 1000})).status_code == 403
    assert (await _limits(client, alice, uploads_per_minute=2))["uploads_per_minute"] == 2
    for i in range(2):
        assert (await upload(client, bob, f"n{i}.txt", f"note {i}\n".encode())).status_code == 201
    on_disk = stored_files(app_state)
    refused = await upload(client, bob, "n2.txt", b"one too many\n")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_uploads"
    assert "2 files per minute" in refused.json()["error"]["message"]
    assert int(refused.headers["Retry-After"]) > 0
    assert stored_files(app_state) == on_disk  # nothing of the refused upload was kept
    listed = (await client.get("/api/files", headers=bob.headers)).json()
    assert sorted(f["name"] for f in listed["data"]) == ["n0.txt", "n1.txt"]
    # An upload into a knowledge base counts too; another user is not affected.
    base = (await client.post("/api/knowledge-bases", headers=bob.headers, json={"name": "Notes"})).json()
    into_base = await client.post(f"/api/knowledge-bases/{base['id']}/documents/upload", headers=bob.headers,
                                  files={"file": ("n3.txt", b"more\n", "text/plain")})
    assert into_base.status_code == 429 and into_base.json()["error"]["code"] == "too_many_uploads"
    assert (await upload(client, alice, "mine.txt", b"alice's note\n")).status_code == 201
