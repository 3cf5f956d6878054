"""One metered call (billing/metered.py): reserve before, settle or release after, always."""

from __future__ import annotations

import httpx
import pytest

from agentcreator.billing import CallTarget
from agentcreator.billing.metered import fee_micros, metered
from agentcreator.core.errors import PaymentRequired
from agentcreator.db.session import transaction
from agentcreator.llm.types import Usage
from agentcreator.state import AppState
from tests.api.billing_helpers import ledger, open_reservations, usage_records
from tests.conftest import UserSession


def _target(user: UserSession) -> CallTarget:
    return CallTarget(user_id=user.id, provider="double", model="gpt-4o-mini")


async def test_a_recorded_call_settles_to_its_real_cost(client: httpx.AsyncClient, alice: UserSession,
                                                        app_state: AppState) -> None:
    async with metered(app_state.billing, _target(alice), prompt_tokens=100, max_output_tokens=100) as call:
        assert len(await open_reservations(app_state)) == 1
        async with transaction(app_state.sessions) as session:
            await call.record(session, kind="title", usage=Usage(input_tokens=10, output_tokens=5))
    assert await open_reservations(app_state) == []
    [record] = await usage_records(app_state)
    assert (record.kind, record.input_tokens, record.output_tokens) == ("title", 10, 5)
    daily = (await ledger(app_state))[("user_day", alice.id)]
    assert (daily.spent_tokens, daily.reserved_tokens) == (15, 0)


async def test_an_error_or_cancel_inside_releases_the_reservation(client: httpx.AsyncClient, alice: UserSession,
                                                                  app_state: AppState) -> None:
    with pytest.raises(RuntimeError):
        async with metered(app_state.billing, _target(alice), prompt_tokens=100, max_output_tokens=100):
            raise RuntimeError("the provider broke")
    assert await open_reservations(app_state) == []
    assert await usage_records(app_state) == []
    daily = (await ledger(app_state))[("user_day", alice.id)]
    assert (daily.spent_tokens, daily.reserved_tokens, daily.reserved_micros) == (0, 0, 0)


async def test_a_budget_with_no_room_refuses_before_the_call(client: httpx.AsyncClient, alice: UserSession,
                                                             app_state: AppState) -> None:
    response = await client.patch(f"/api/admin/budgets/users/{alice.id}", headers=alice.headers,
                                  json={"user_daily_tokens": 50})
    assert response.status_code == 200
    called = False
    with pytest.raises(PaymentRequired):
        async with metered(app_state.billing, _target(alice), prompt_tokens=40, max_output_tokens=40):
            called = True
    assert not called and await open_reservations(app_state) == []


def test_fees_are_per_thousand_calls_rounded_up() -> None:
    assert fee_micros(10_000_000) == 10_000  # $10 per 1,000 calls: 1 cent a call
    assert fee_micros(2_500_000, 3) == 7_500
    assert fee_micros(1, 1) == 1 and fee_micros(None) == 0
