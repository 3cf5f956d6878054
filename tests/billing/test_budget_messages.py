"""The 402 a refused send gets names the budget, what is left and when it resets."""

from __future__ import annotations

from datetime import UTC, datetime

from agentcreator.billing.budgets import UserLimits, checks_for, refusal

NOW = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)


def _daily_check(**limits: int | None):
    return checks_for(NOW, "u1", UserLimits.merged(limits, {}))[0]


def test_a_used_up_money_budget_names_its_size_and_reset() -> None:
    error = refusal(_daily_check(user_daily_micros=1_000_000), spent_micros=1_000_000, reserved_micros=0,
                    spent_tokens=0, reserved_tokens=0, needed_micros=10, needed_tokens=5)
    assert error.status_code == 402 and error.code == "budget_exceeded"
    assert error.message == "Your daily budget of $1.00 is used up (resets at 00:00 UTC)."
    assert error.details["resets_at"].startswith("2026-11-22T00:00")


def test_a_token_budget_that_does_not_cover_the_request_says_what_is_left() -> None:
    error = refusal(_daily_check(user_daily_tokens=1000), spent_micros=0, reserved_micros=0,
                    spent_tokens=999, reserved_tokens=0, needed_micros=0, needed_tokens=50)
    assert error.message == ("Your daily token budget of 1,000 tokens does not cover this request: "
                             "1 token left, up to 50 tokens needed (resets at 00:00 UTC).")
    assert error.details["unit"] == "tokens"
