"""Budgets: a send that would pass a budget is refused with 402 before the provider is called and
saves nothing; reservations are atomic under concurrency and settle to the real cost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from agentcreator.state import AppState
from tests.api.billing_helpers import chat_calls, ledger, open_reservations
from tests.api.chat_helpers import eventually, make_chat, messages, send, sse_events
from tests.conftest import UserSession
from tests.llm.openai_double import HttpError, OpenAIDouble, Script

# double/gpt-4o-mini, replies capped at 1000 tokens: the most a call can cost is about
# prompt x $0.15/1M + 1000 x $0.60/1M = ~603 micro-dollars. A 630 limit has room for one call only,
# whether or not the first one has settled (its real cost: 25 x 0.15 + 1000 x 0.60 = 603.75 -> 604),
# and what is left (~26 micro-dollars, ~40 tokens) is less than a useful reply (64 tokens), so a second
# call is not sent with a capped reply either.
ONE_CALL_MICROS = 630
ONE_CALL_TOKENS = 1050


async def _limited_chat(client: httpx.AsyncClient, user: UserSession, scope: str,
                        conversations: int) -> tuple[dict[str, Any], list[str]]:
    assistant, first = await make_chat(client, user, parameters={"max_output_tokens": 1000})
    if scope == "user_daily_micros":
        await _set_user_budget(client, user, user, user_daily_micros=ONE_CALL_MICROS)
    elif scope == "user_daily_tokens":
        await _set_user_budget(client, user, user, user_daily_tokens=ONE_CALL_TOKENS)
    elif scope == "assistant_monthly_micros":
        response = await client.patch(f"/api/assistants/{assistant['id']}", headers=user.headers,
                                      json={"budget_monthly_micros": ONE_CALL_MICROS})
        assert response.json()["budget_monthly_micros"] == ONE_CALL_MICROS
    ids = [first["id"]]
    for _ in range(conversations - 1):
        created = await client.post("/api/conversations", headers=user.headers,
                                    json={"assistant_id": assistant["id"]})
        ids.append(created.json()["id"])
    for conversation_id in ids:  # titled already: no title calls in these tests
        await client.patch(f"/api/conversations/{conversation_id}", headers=user.headers, json={"title": "Fixed"})
    return assistant, ids


async def _set_user_budget(client: httpx.AsyncClient, admin: UserSession, user: UserSession,
                           **limits: int | None) -> dict[str, Any]:
    response = await client.patch(f"/api/admin/budgets/users/{user.id}", headers=admin.headers, json=limits)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("scope", ["user_daily_micros", "user_daily_tokens", "assistant_monthly_micros"])
async def test_twenty_parallel_sends_with_budget_for_one_make_at_most_one_call(
        live_client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState,
        scope: str) -> None:
    assistant, ids = await _limited_chat(live_client, alice, scope, 20)
    openai_double.push(Script(text=["ok"], input_tokens=25, output_tokens=1000))
    # This races the budget, not the per-user fair-use limits (3 running turns, 20 a minute).
    lifted = await live_client.patch("/api/admin/settings", headers=alice.headers,
                                     json={"max_concurrent_turns": 100, "turns_per_minute": 1000})
    assert lifted.status_code == 200

    responses = await asyncio.gather(*(send(live_client, alice, cid, "go") for cid in ids))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [402] * 19, [r.text for r in responses if r.status_code not in (201, 402)]
    assert chat_calls(openai_double) == 1
    refusals = [r.json()["error"] for r in responses if r.status_code == 402]
    assert {e["code"] for e in refusals} == {"budget_exceeded"}
    expected_budget = {"user_daily_micros": "user_daily", "user_daily_tokens": "user_daily",
                       "assistant_monthly_micros": "assistant_monthly"}[scope]
    assert {e["details"]["budget"] for e in refusals} == {expected_budget}
    for response, conversation_id in zip(responses, ids, strict=True):  # refused sends saved nothing
        stored = await messages(live_client, alice, conversation_id)
        assert len(stored) == (2 if response.status_code == 201 else 0)
    rows = await ledger(app_state)
    subject = assistant["id"] if scope.startswith("assistant") else alice.id
    row = rows[("assistant_month" if scope.startswith("assistant") else "user_day", subject)]
    assert (row.reserved_micros, row.reserved_tokens) == (0, 0)
    assert (row.spent_micros, row.spent_tokens) == (604, 1025)
    if scope.endswith("micros"):
        assert row.spent_micros <= ONE_CALL_MICROS
    else:
        assert row.spent_tokens <= ONE_CALL_TOKENS
    assert not await open_reservations(app_state)


async def _expensive_prices(client: httpx.AsyncClient, admin: UserSession) -> None:
    """double/gpt-4o-mini at $1000 per 1M output tokens (1,000 micro-dollars a token), input free."""
    current = (await client.get("/api/admin/prices", headers=admin.headers)).json()
    models = current["models"] + [{"pattern": "double/gpt-4o-mini", "input_per_1m": 0,
                                   "cached_input_per_1m": None, "output_per_1m": 1_000_000_000}]
    response = await client.put("/api/admin/prices", headers=admin.headers, json={"models": models})
    assert response.status_code == 200


async def test_a_used_up_daily_budget_is_named_in_the_refusal(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    await _expensive_prices(client, alice)
    _, [conversation_id] = await _limited_chat(client, alice, "none", 1)
    await _set_user_budget(client, alice, alice, user_daily_micros=1_000_000)
    openai_double.push(Script(text=["pricey"], output_tokens=1000))
    first = await send(client, alice, conversation_id, "one")
    assert first.status_code == 201 and first.json()["assistant_message"]["cost_micros"] == 1_000_000

    refused = await send(client, alice, conversation_id, "two")
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded"
    assert error["message"] == "Your daily budget of $1.00 is used up (resets at 00:00 UTC)."
    assert error["details"] | {"resets_at": None, "period": None, "needed": None} == {
        "budget": "user_daily", "unit": "usd_micros", "limit": 1_000_000, "spent": 1_000_000, "reserved": 0,
        "needed": None, "period": None, "resets_at": None}
    assert chat_calls(openai_double) == 1
    assert [m["text"] for m in await messages(client, alice, conversation_id)] == ["one", "pricey"]


async def test_monthly_and_token_budgets_name_their_reset(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    _, [conversation_id] = await _limited_chat(client, alice, "none", 1)
    # 30 micro-dollars: room for fewer than 64 reply tokens (0.6 each), so not even a shortened reply
    await _set_user_budget(client, alice, alice, user_monthly_micros=30)
    refused = (await send(client, alice, conversation_id, "hi")).json()["error"]
    now = datetime.now(UTC)
    next_month = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    assert refused["message"].startswith("Your monthly budget of $0.00003 does not cover this request: "
                                         "$0.00003 left, up to $0.0000")
    assert refused["message"].endswith(f"(resets on 1 {next_month.strftime('%B')} at 00:00 UTC).")
    assert datetime.fromisoformat(refused["details"]["resets_at"]) == next_month

    await _set_user_budget(client, alice, alice, user_monthly_micros=None, user_daily_tokens=10)
    tokens = (await send(client, alice, conversation_id, "hi")).json()["error"]
    assert tokens["message"].startswith("Your daily token budget of 10 tokens does not cover this request")
    assert tokens["details"]["unit"] == "tokens"
    assert chat_calls(openai_double) == 0
    assert await messages(client, alice, conversation_id) == []


async def test_a_failed_call_releases_its_reservation_and_costs_nothing(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    _, [conversation_id] = await _limited_chat(client, alice, "user_daily_micros", 1)
    openai_double.push(Script(http_error=HttpError(400, "bad request", code="invalid_value")))
    failed = (await send(client, alice, conversation_id, "boom")).json()["assistant_message"]
    assert failed["status"] == "failed" and failed["cost_micros"] == 0
    row = (await ledger(app_state))[("user_day", alice.id)]
    assert (row.spent_micros, row.reserved_micros, row.reserved_tokens) == (0, 0, 0)
    openai_double.push(Script(text=["ok"], input_tokens=25, output_tokens=1000))
    assert (await send(client, alice, conversation_id, "again")).status_code == 201  # the budget is whole again


async def test_a_stopped_answer_settles_to_its_partial_cost(
        live_client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    _, [conversation_id] = await _limited_chat(live_client, alice, "user_daily_micros", 1)
    openai_double.push(Script(text=["Partial", " answer", " never"], stall_after=2))
    final: dict[str, Any] = {}
    async with live_client.stream("POST", f"/api/conversations/{conversation_id}/messages",
                                  headers=alice.headers | {"Accept": "text/event-stream"},
                                  json={"content": "long story"}) as response:
        received = ""
        async for event in sse_events(response):
            if event.type == "text_delta":
                received += event.data["text"]
                if received == "Partial answer":  # the double stalls here; deltas that arrive together come as one
                    stop = await live_client.post(f"/api/conversations/{conversation_id}/stop",
                                                  headers=alice.headers)
                    assert stop.json() == {"stopped": True}
            elif event.type == "turn_stopped":
                final = event.data["message"]
                break
    assert final["status"] == "stopped" and final["text"] == "Partial answer"
    usage = final["usage"]
    assert usage["estimated"] is True and usage["output_tokens"] > 0
    row = (await ledger(app_state))[("user_day", alice.id)]
    assert (row.reserved_micros, row.reserved_tokens) == (0, 0)
    assert row.spent_micros == final["cost_micros"] == usage["cost_micros"] > 0
    assert row.spent_tokens == usage["input_tokens"] + usage["output_tokens"]
    assert not await open_reservations(app_state)


async def test_no_room_for_a_title_falls_back_to_the_first_words_without_a_call(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    await _expensive_prices(client, alice)
    _, conversation = await make_chat(client, alice, parameters={"max_output_tokens": 1000})
    await _set_user_budget(client, alice, alice, user_daily_micros=1_000_000)
    openai_double.push(Script(text=["answer"], output_tokens=1000))
    assert (await send(client, alice, conversation["id"], "Plan a trip to Lisbon in May please")).status_code == 201

    async def titled() -> str | None:
        current = (await client.get(f"/api/conversations/{conversation['id']}", headers=alice.headers)).json()
        return current["title"] if current["title"] != "New conversation" else None

    assert await eventually(titled) == "Plan a trip to Lisbon…"
    assert chat_calls(openai_double) == 1


async def test_a_default_changed_by_an_admin_holds_for_the_very_next_send(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    """Turn starts keep the platform defaults cached; the admin route drops that copy at once."""
    _, [conversation_id] = await _limited_chat(client, alice, "none", 1)
    assert (await send(client, alice, conversation_id, "one")).status_code == 201  # the defaults are cached now
    changed = await client.patch("/api/admin/budgets/defaults", headers=alice.headers, json={"user_daily_tokens": 1})
    assert changed.status_code == 200, changed.text
    refused = await send(client, alice, conversation_id, "two")
    assert refused.status_code == 402
    assert refused.json()["error"]["details"]["budget"] == "user_daily"
    assert chat_calls(openai_double) == 1
    await client.patch("/api/admin/budgets/defaults", headers=alice.headers, json={"user_daily_tokens": None})
    assert (await send(client, alice, conversation_id, "three")).status_code == 201
