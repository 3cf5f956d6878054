"""Usage reports: exact sums from known usage, owner scoping, admin views, CSV export, dashboard."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.chat_helpers import make_chat, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script


async def _chat(client: httpx.AsyncClient, user: UserSession, model: str, name: str) -> tuple[dict, dict]:
    assistant, conversation = await make_chat(client, user, model=model, name=name)
    await client.patch(f"/api/conversations/{conversation['id']}", headers=user.headers, json={"title": name})
    return assistant, conversation


async def _usage(client: httpx.AsyncClient, user: UserSession, **params: Any) -> httpx.Response:
    return await client.get("/api/usage", headers=user.headers, params=params)


async def _spend(client: httpx.AsyncClient, alice: UserSession, bob: UserSession,
                 double: OpenAIDouble) -> dict[str, Any]:
    """Alice: 210 + 255 micro-dollars with gpt-4o-mini ("Mini"), 300 with gpt-5-mini ("Five").
    Bob: 8 with gpt-4o-mini."""
    mini, first = await _chat(client, alice, "double/gpt-4o-mini", "Mini")
    five, second = await _chat(client, alice, "double/gpt-5-mini", "Five")
    bobs, third = await _chat(client, bob, "double/gpt-4o-mini", "Bob's")
    double.push(Script(text=["a"], input_tokens=1000, output_tokens=100),  # 150 + 60
                Script(text=["b"], input_tokens=2000, cached_input_tokens=1000, output_tokens=50),  # 150 + 75 + 30
                Script(text=["c"], input_tokens=400, output_tokens=100),  # gpt-5-mini: 100 + 200
                Script(text=["d"], input_tokens=10, output_tokens=10))  # 1.5 + 6 = 7.5 -> 8
    for user, conversation in ((alice, first), (alice, first), (alice, second), (bob, third)):
        assert (await send(client, user, conversation["id"], "hi")).status_code == 201
    return {"mini": mini, "five": five, "bobs": bobs, "first": first, "second": second, "third": third}


async def test_reports_group_the_callers_usage_with_exact_costs(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    ids = await _spend(client, alice, bob, openai_double)
    by_assistant = (await _usage(client, alice, group_by="assistant")).json()
    assert by_assistant["user_id"] == alice.id
    assert [(g["key"], g["label"], g["calls"], g["cost_micros"]) for g in
            sorted(by_assistant["data"], key=lambda g: g["cost_micros"])] == [
        (ids["five"]["id"], "Five", 1, 300), (ids["mini"]["id"], "Mini", 2, 465)]
    totals = by_assistant["totals"]
    assert (totals["calls"], totals["cost_micros"], totals["input_tokens"], totals["cached_input_tokens"],
            totals["output_tokens"], totals["unpriced_calls"]) == (3, 765, 3400, 1000, 250, 0)

    by_model = (await _usage(client, alice, group_by="model")).json()["data"]
    assert [(g["key"], g["cost_micros"]) for g in by_model] == [("double/gpt-4o-mini", 465), ("double/gpt-5-mini", 300)]
    by_conversation = (await _usage(client, alice, group_by="conversation")).json()["data"]
    assert {(g["label"], g["cost_micros"]) for g in by_conversation} == {("Mini", 465), ("Five", 300)}
    by_day = (await _usage(client, alice, group_by="day")).json()["data"]
    assert [(g["key"], g["cost_micros"]) for g in by_day] == [(datetime.now(UTC).date().isoformat(), 765)]
    by_kind = (await _usage(client, alice, group_by="kind")).json()["data"]
    assert [(g["key"], g["calls"]) for g in by_kind] == [("chat", 3)]
    only_first = (await _usage(client, alice, conversation_id=ids["first"]["id"])).json()["totals"]
    assert only_first["cost_micros"] == 465


async def test_reports_never_show_another_users_usage(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    ids = await _spend(client, alice, bob, openai_double)
    own = (await _usage(client, bob, group_by="assistant")).json()
    assert [(g["key"], g["cost_micros"]) for g in own["data"]] == [(ids["bobs"]["id"], 8)]
    for params in ({"assistant_id": ids["mini"]["id"]}, {"conversation_id": ids["first"]["id"]}):
        other = (await _usage(client, bob, **params)).json()
        assert other["data"] == [] and other["totals"]["calls"] == 0
        export = await client.get("/api/usage/export.csv", headers=bob.headers, params=params)
        assert export.status_code == 200 and len(list(csv.reader(io.StringIO(export.text)))) == 1
    for params in ({"user_id": alice.id}, {"all": "true"}, {"group_by": "user"}):
        refused = await _usage(client, bob, **params)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_required"
        if "group_by" not in params:
            export = await client.get("/api/usage/export.csv", headers=bob.headers, params=params)
            assert export.status_code == 403
    assert (await client.get("/api/usage")).status_code == 401
    # alice's own view is unchanged by bob's attempts
    assert (await _usage(client, alice)).json()["totals"]["cost_micros"] == 765


async def test_admins_see_everyone_and_one_user(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    await _spend(client, alice, bob, openai_double)
    everyone = (await _usage(client, alice, all="true", group_by="user")).json()
    assert everyone["user_id"] is None
    assert {(g["key"], g["label"], g["cost_micros"]) for g in everyone["data"]} == {
        (alice.id, "alice@example.com", 765), (bob.id, "bob@example.com", 8)}
    one = (await _usage(client, alice, user_id=bob.id)).json()
    assert one["user_id"] == bob.id and one["totals"]["cost_micros"] == 8


async def test_csv_export_has_one_row_per_call(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    ids = await _spend(client, alice, bob, openai_double)
    response = await client.get("/api/usage/export.csv", headers=alice.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="usage-')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["model"], r["cost_micros"], r["cost_usd"]) for r in rows] == [
        ("gpt-4o-mini", "210", "0.000210"), ("gpt-4o-mini", "255", "0.000255"), ("gpt-5-mini", "300", "0.000300")]
    assert {r["user_email"] for r in rows} == {"alice@example.com"}
    assert rows[1]["cached_input_tokens"] == "1000" and rows[0]["priced"] == "true"
    assert {r["conversation_id"] for r in rows} == {ids["first"]["id"], ids["second"]["id"]}
    everyone = await client.get("/api/usage/export.csv", headers=alice.headers, params={"all": "true"})
    assert len(list(csv.DictReader(io.StringIO(everyone.text)))) == 4


async def test_periods_filter_and_validate(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    await _spend(client, alice, bob, openai_double)
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    later = {"from": tomorrow.isoformat(), "to": tomorrow.isoformat()}
    assert (await _usage(client, alice, **later)).json()["totals"]["calls"] == 0
    inclusive = (await _usage(client, alice, **{"from": today.isoformat(), "to": today.isoformat()})).json()
    assert inclusive["totals"]["cost_micros"] == 765
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await _usage(client, alice, **{"from": an_hour_ago})).json()["totals"]["cost_micros"] == 765
    backwards = await _usage(client, alice, **{"from": tomorrow.isoformat(), "to": "2000-01-01"})
    assert backwards.status_code == 422
    assert (await _usage(client, alice, group_by="planet")).status_code == 422


async def test_dashboard_summary_shows_spend_and_budget_left(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    await client.patch(f"/api/admin/budgets/users/{alice.id}", headers=alice.headers,
                       json={"user_monthly_micros": 1_000_000, "user_daily_tokens": 100_000})
    await _spend(client, alice, bob, openai_double)
    summary = (await client.get("/api/usage/summary", headers=alice.headers)).json()
    now = datetime.now(UTC)
    assert (summary["month"], summary["day"]) == (now.strftime("%Y-%m"), now.strftime("%Y-%m-%d"))
    assert summary["month_totals"]["cost_micros"] == summary["today_totals"]["cost_micros"] == 765
    assert summary["daily"] == [{"day": now.date().isoformat(), "cost_micros": 765, "tokens": 3650, "calls": 3}]
    budgets = {(b["budget"], b["unit"]): b for b in summary["budgets"]}
    assert set(budgets) == {("user_monthly", "usd_micros"), ("user_daily", "tokens")}
    monthly = budgets[("user_monthly", "usd_micros")]
    assert (monthly["limit"], monthly["spent"], monthly["reserved"], monthly["remaining"]) == (
        1_000_000, 765, 0, 1_000_000 - 765)
    assert budgets[("user_daily", "tokens")]["remaining"] == 100_000 - 3650
    assert summary["limits"]["user_daily_micros"] is None
    bobs = (await client.get("/api/usage/summary", headers=bob.headers)).json()
    assert bobs["month_totals"]["cost_micros"] == 8 and bobs["budgets"] == []
