"""Budget administration (platform defaults, per-user overrides), start-up recovery of open
reservations, and token budgets for local models (which cost nothing)."""

from __future__ import annotations

import httpx
import pytest

from agentcreator.billing import CallTarget
from agentcreator.core.errors import PaymentRequired
from agentcreator.state import AppState
from tests.api.billing_helpers import ledger, open_reservations
from tests.conftest import UserSession

UNLIMITED = {"user_daily_micros": None, "user_monthly_micros": None, "user_daily_tokens": None,
             "user_monthly_tokens": None}


async def test_defaults_and_overrides_combine_into_effective_limits(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession) -> None:
    assert (await client.get("/api/admin/budgets/defaults", headers=alice.headers)).json() == UNLIMITED
    defaults = await client.patch("/api/admin/budgets/defaults", headers=alice.headers,
                                  json={"user_daily_micros": 1_000_000, "user_monthly_tokens": 5_000_000})
    assert defaults.json() == UNLIMITED | {"user_daily_micros": 1_000_000, "user_monthly_tokens": 5_000_000}

    fresh = (await client.get(f"/api/admin/budgets/users/{bob.id}", headers=alice.headers)).json()
    assert fresh["overridden"] == [] and fresh["effective"] == defaults.json()

    # bob may spend without a daily cap (null = unlimited) and at most $20 a month
    changed = (await client.patch(f"/api/admin/budgets/users/{bob.id}", headers=alice.headers,
                                  json={"user_daily_micros": None, "user_monthly_micros": 20_000_000})).json()
    assert changed["overridden"] == ["user_daily_micros", "user_monthly_micros"]
    assert changed["effective"] == {"user_daily_micros": None, "user_monthly_micros": 20_000_000,
                                    "user_daily_tokens": None, "user_monthly_tokens": 5_000_000}
    # a later default change reaches what bob inherits, not what he overrides
    await client.patch("/api/admin/budgets/defaults", headers=alice.headers, json={"user_monthly_tokens": 7})
    later = (await client.get(f"/api/admin/budgets/users/{bob.id}", headers=alice.headers)).json()
    assert later["effective"]["user_monthly_tokens"] == 7 and later["effective"]["user_daily_micros"] is None

    reset = (await client.delete(f"/api/admin/budgets/users/{bob.id}", headers=alice.headers)).json()
    assert reset["overridden"] == [] and reset["effective"]["user_daily_micros"] == 1_000_000


async def test_budget_administration_is_for_admins_only(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession) -> None:
    await client.patch(f"/api/admin/budgets/users/{bob.id}", headers=alice.headers, json={"user_daily_micros": 5})
    before = (await client.get(f"/api/admin/budgets/users/{bob.id}", headers=alice.headers)).json()
    attempts = [
        ("GET", "/api/admin/budgets/defaults", None),
        ("PATCH", "/api/admin/budgets/defaults", {"user_daily_micros": None}),
        ("GET", f"/api/admin/budgets/users/{bob.id}", None),
        ("PATCH", f"/api/admin/budgets/users/{bob.id}", {"user_daily_micros": None}),
        ("DELETE", f"/api/admin/budgets/users/{bob.id}", None),
        ("PATCH", f"/api/admin/budgets/users/{alice.id}", {"user_daily_micros": 0}),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, headers=bob.headers, json=body)
        assert response.status_code == 403, (method, url, response.text)
        assert (await client.request(method, url, json=body)).status_code == 401
    assert (await client.get(f"/api/admin/budgets/users/{bob.id}", headers=alice.headers)).json() == before
    assert (await client.get("/api/admin/budgets/defaults", headers=alice.headers)).json() == UNLIMITED
    missing = await client.get("/api/admin/budgets/users/" + "0" * 32, headers=alice.headers)
    assert missing.status_code == 404
    bad = await client.patch(f"/api/admin/budgets/users/{bob.id}", headers=alice.headers,
                             json={"user_daily_micros": -1})
    assert bad.status_code == 422
    unknown = await client.patch("/api/admin/budgets/defaults", headers=alice.headers, json={"weekly": 3})
    assert unknown.status_code == 422


async def test_start_up_releases_reservations_a_crash_left_open(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    target = CallTarget(user_id=alice.id, provider="openai", model="gpt-4o-mini")
    # 100 x $0.15 + 1000 x $0.60 per 1M = 15 + 600 micro-dollars
    reservation = await app_state.billing.reserve_now(target, prompt_tokens=100, max_output_tokens=1000)
    assert reservation.micros == 615 and reservation.tokens == 1100
    row = (await ledger(app_state))[("user_day", alice.id)]
    assert (row.reserved_micros, row.reserved_tokens, row.spent_micros) == (615, 1100, 0)

    assert await app_state.billing.recover() == 1  # what AppState.start does after a crash

    row = (await ledger(app_state))[("user_day", alice.id)]
    assert (row.reserved_micros, row.reserved_tokens, row.spent_micros) == (0, 0, 0)
    assert await open_reservations(app_state) == []
    await app_state.billing.release(reservation)  # settling a released reservation changes nothing
    row = (await ledger(app_state))[("user_day", alice.id)]
    assert (row.reserved_micros, row.reserved_tokens) == (0, 0)


async def test_local_models_cost_nothing_but_their_tokens_count(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    await client.patch(f"/api/admin/budgets/users/{alice.id}", headers=alice.headers,
                       json={"user_daily_micros": 0, "user_daily_tokens": 1000})
    local = CallTarget(user_id=alice.id, provider="local", model="gpt-4o", local=True)
    reservation = await app_state.billing.reserve_now(local, prompt_tokens=300, max_output_tokens=500)
    assert reservation.micros == 0  # a $0 money budget does not stop a free model
    with pytest.raises(PaymentRequired) as refused:
        await app_state.billing.reserve_now(local, prompt_tokens=300, max_output_tokens=500)
    assert refused.value.details["budget"] == "user_daily" and refused.value.details["unit"] == "tokens"
    priced = CallTarget(user_id=alice.id, provider="openai", model="gpt-4o")
    with pytest.raises(PaymentRequired) as money:
        await app_state.billing.reserve_now(priced, prompt_tokens=1, max_output_tokens=1)
    assert money.value.message == "Your daily budget of $0.00 is used up (resets at 00:00 UTC)."
    await app_state.billing.release(reservation)
    assert (await ledger(app_state))[("user_day", alice.id)].reserved_tokens == 0
