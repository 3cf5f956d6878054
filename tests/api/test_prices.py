"""Metering with the OpenAI double: exact micro-dollar costs from the list prices; the versioned
price table (admins edit it; earlier costs never change); unknown models priced 0 and flagged."""

from __future__ import annotations

import httpx

from agentcreator.state import AppState
from tests.api.billing_helpers import ledger, open_reservations, usage_records
from tests.api.chat_helpers import eventually, make_chat, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script


async def test_a_turn_and_its_title_are_priced_from_the_current_table(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    # gpt-4o-mini: 600 uncached x $0.15 + 400 cached x $0.075 + 200 out x $0.60 per 1M = 90 + 30 + 120 = 240 micros
    openai_double.push(Script(text=["Hi"], input_tokens=1000, cached_input_tokens=400, output_tokens=200),
                       Script(text=["Greeting"], input_tokens=30, output_tokens=3))
    _, conversation = await make_chat(client, alice)
    answer = (await send(client, alice, conversation["id"], "hello")).json()["assistant_message"]
    assert answer["cost_micros"] == 240
    version = (await client.get("/api/prices", headers=alice.headers)).json()["version"]["id"]
    assert answer["usage"] | {"latency_ms": 0, "ttft_ms": 0} == {
        "input_tokens": 1000, "cached_input_tokens": 400, "output_tokens": 200, "reasoning_tokens": 0,
        "estimated": False, "latency_ms": 0, "ttft_ms": 0, "finish_reason": "stop", "cost_micros": 240,
        "priced": True, "price_version": version, "local": False}

    async def both() -> list:
        records = await usage_records(app_state, user_id=alice.id)
        return records if len(records) == 2 else []

    records = {r.kind: r for r in await eventually(both)}
    chat = records["chat"]
    assert (chat.cost_micros, chat.price_version, chat.priced, chat.message_id) == (240, version, True, answer["id"])
    # title: 30 x 0.15 + 3 x 0.60 = 4.5 + 1.8 = 6.3 -> 6 micros
    assert (records["title"].cost_micros, records["title"].input_tokens, records["title"].output_tokens) == (6, 30, 3)
    rows = await ledger(app_state)
    assert rows[("user_month", alice.id)].spent_micros == 246
    assert rows[("user_day", alice.id)].spent_tokens == 1200 + 33
    assert rows[("user_day", alice.id)].reserved_micros == 0 and not await open_reservations(app_state)


async def test_editing_prices_creates_a_version_and_keeps_past_costs(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    current = (await client.get("/api/admin/prices", headers=alice.headers)).json()
    first_version = current["version"]["id"]
    mini = next(m for m in current["models"] if m["pattern"] == "*/gpt-4o-mini")
    assert mini == {"pattern": "*/gpt-4o-mini", "input_per_1m": 150_000, "cached_input_per_1m": 75_000,
                    "output_per_1m": 600_000}
    assert {"tool": "web_search", "per_1k_calls": 10_000_000} in current["tools"]
    assert {"tool": "file_search", "per_1k_calls": 2_500_000} in current["tools"]

    _, conversation = await make_chat(client, alice)
    await client.patch(f"/api/conversations/{conversation['id']}", headers=alice.headers, json={"title": "Fixed"})
    openai_double.push(Script(text=["a"], input_tokens=1000, output_tokens=1000))
    before = (await send(client, alice, conversation["id"], "one")).json()["assistant_message"]
    assert before["cost_micros"] == 150 + 600

    models = [m for m in current["models"] if m["pattern"] != "*/gpt-4o-mini"] + [
        {"pattern": "double/gpt-4o-mini", "input_per_1m": 1_000_000, "cached_input_per_1m": None,
         "output_per_1m": 2_000_000}]
    saved = await client.put("/api/admin/prices", headers=alice.headers,
                             json={"note": "double is dearer", "models": models, "tools": current["tools"]})
    assert saved.status_code == 200, saved.text
    new_version = saved.json()["version"]
    assert new_version["id"] > first_version and new_version["created_by"] == alice.id
    assert new_version["note"] == "double is dearer"

    openai_double.push(Script(text=["b"], input_tokens=1000, output_tokens=1000))
    after = (await send(client, alice, conversation["id"], "two")).json()["assistant_message"]
    assert after["cost_micros"] == 1000 + 2000
    records = {r.message_id: r for r in await usage_records(app_state, kind="chat")}
    assert (records[before["id"]].cost_micros, records[before["id"]].price_version) == (750, first_version)
    assert (records[after["id"]].cost_micros, records[after["id"]].price_version) == (3000, new_version["id"])
    old = (await client.get(f"/api/admin/prices?version={first_version}", headers=alice.headers)).json()
    assert old["models"] == current["models"]
    versions = (await client.get("/api/admin/prices/versions", headers=alice.headers)).json()
    assert [v["id"] for v in versions["data"]][:2] == [new_version["id"], first_version]


async def test_unknown_models_are_priced_zero_and_flagged_without_failing(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    _, conversation = await make_chat(client, alice, model="double/acme-chat-1")  # served, not in the price table
    await client.patch(f"/api/conversations/{conversation['id']}", headers=alice.headers, json={"title": "Fixed"})
    openai_double.push(Script(text=["fine"], input_tokens=500, output_tokens=500))
    answer = (await send(client, alice, conversation["id"], "hi")).json()["assistant_message"]
    assert answer["status"] == "complete" and answer["cost_micros"] == 0
    assert answer["usage"]["priced"] is False
    [record] = await usage_records(app_state, user_id=alice.id)
    assert (record.cost_micros, record.priced, record.input_tokens, record.output_tokens) == (0, False, 500, 500)


async def test_prices_admin_routes_refuse_other_users_and_validate(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession) -> None:
    before = (await client.get("/api/admin/prices", headers=alice.headers)).json()
    assert (await client.get("/api/admin/prices", headers=bob.headers)).status_code == 403
    put = await client.put("/api/admin/prices", headers=bob.headers, json={"models": []})
    assert put.status_code == 403
    assert (await client.get("/api/admin/prices/versions", headers=bob.headers)).status_code == 403
    assert (await client.get("/api/admin/prices")).status_code == 401
    # anyone signed in can read the table in force
    public = {**before, "version": {k: v for k, v in before["version"].items() if k != "created_by"}}
    assert (await client.get("/api/prices", headers=bob.headers)).json() == public  # (no administrator's id)
    bad = [{"pattern": "no-slash", "input_per_1m": 1, "output_per_1m": 1}]
    assert (await client.put("/api/admin/prices", headers=alice.headers, json={"models": bad})).status_code == 422
    negative = [{"pattern": "*/m", "input_per_1m": -1, "output_per_1m": 1}]
    assert (await client.put("/api/admin/prices", headers=alice.headers, json={"models": negative})).status_code == 422
    twice = [{"pattern": "*/m", "input_per_1m": 1, "output_per_1m": 1}] * 2
    assert (await client.put("/api/admin/prices", headers=alice.headers, json={"models": twice})).status_code == 422
    assert (await client.get("/api/admin/prices?version=999999", headers=alice.headers)).status_code == 404
    assert (await client.get("/api/admin/prices", headers=alice.headers)).json() == before


async def test_ordinary_users_never_see_an_administrators_id(client: httpx.AsyncClient, alice: UserSession,
                                                             bob: UserSession) -> None:
    current = (await client.get("/api/admin/prices", headers=alice.headers)).json()
    saved = await client.put("/api/admin/prices", headers=alice.headers,
                             json={"note": "new table", "models": current["models"], "tools": current["tools"]})
    assert saved.json()["version"]["created_by"] == alice.id  # administrators still see who changed it
    seen = await client.get("/api/prices", headers=bob.headers)
    assert seen.status_code == 200
    assert alice.id not in seen.text and "created_by" not in seen.json()["version"]
    assert seen.json()["version"]["note"] == "new table"
