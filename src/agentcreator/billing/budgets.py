"""Budget rules: which limits apply to a call, their periods (UTC days and months), and the
message a refused request gets.

Scopes: the user's day and month (money and tokens; platform defaults set by admins, per-user
overrides) and the assistant's month (money and tokens, set on the assistant by its owner). A
limit of None means unlimited. Tokens are input + output tokens (cached included), so local
models, which cost nothing, are still held to token budgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from agentcreator.billing.pricing import format_usd
from agentcreator.core.errors import PaymentRequired
from agentcreator.repositories.budgets import LedgerKey

USER_LIMIT_FIELDS = ("user_daily_micros", "user_monthly_micros", "user_daily_tokens", "user_monthly_tokens")


@dataclass(frozen=True)
class UserLimits:
    user_daily_micros: int | None = None
    user_monthly_micros: int | None = None
    user_daily_tokens: int | None = None
    user_monthly_tokens: int | None = None

    @classmethod
    def merged(cls, defaults: dict[str, Any], overrides: dict[str, Any]) -> UserLimits:
        values = {name: overrides[name] if name in overrides else defaults.get(name) for name in USER_LIMIT_FIELDS}
        return cls(**values)

    def as_dict(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in USER_LIMIT_FIELDS}


@dataclass(frozen=True)
class BudgetCheck:
    """One ledger row to reserve against, with its limits and how to name it."""

    key: LedgerKey
    limit_micros: int | None
    limit_tokens: int | None
    start: datetime
    end: datetime
    assistant_name: str | None = None

    @property
    def name(self) -> str:
        return {"user_day": "user_daily", "user_month": "user_monthly",
                "assistant_month": "assistant_monthly"}[self.key.scope]


def day_bounds(now: datetime) -> tuple[str, datetime, datetime]:
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start.strftime("%Y-%m-%d"), start, start + timedelta(days=1)


def month_bounds(now: datetime) -> tuple[str, datetime, datetime]:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start.strftime("%Y-%m"), start, end


@lru_cache(maxsize=4)
def _periods(day: date) -> tuple[tuple[str, datetime, datetime], tuple[str, datetime, datetime]]:
    """The day's and the month's bounds of a UTC date (computed once per day: every call needs them)."""
    now = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return day_bounds(now), month_bounds(now)


def checks_for(now: datetime, user_id: str, limits: UserLimits, assistant_id: str | None = None,
               assistant_name: str | None = None, assistant_micros: int | None = None,
               assistant_tokens: int | None = None) -> list[BudgetCheck]:
    """Every scope a call counts against, always in the same order (no lock-order deadlocks).
    Scopes without a limit are still kept up to date, so a limit set mid-period starts right."""
    (day, day_start, day_end), (month, month_start, month_end) = _periods(now.astimezone(UTC).date())
    checks = [
        BudgetCheck(LedgerKey("user_day", user_id, day), limits.user_daily_micros, limits.user_daily_tokens,
                    day_start, day_end),
        BudgetCheck(LedgerKey("user_month", user_id, month), limits.user_monthly_micros,
                    limits.user_monthly_tokens, month_start, month_end),
    ]
    if assistant_id is not None:
        checks.append(BudgetCheck(LedgerKey("assistant_month", assistant_id, month), assistant_micros,
                                  assistant_tokens, month_start, month_end, assistant_name))
    return checks


def _tokens(count: int) -> str:
    return f"{count:,} token" if count == 1 else f"{count:,} tokens"


def _resets(check: BudgetCheck) -> str:
    if check.key.scope == "user_day":
        return "resets at 00:00 UTC"
    return f"resets on {check.end.day} {check.end.strftime('%B')} at 00:00 UTC"


def refusal(check: BudgetCheck, *, spent_micros: int, reserved_micros: int, spent_tokens: int,
            reserved_tokens: int, needed_micros: int, needed_tokens: int) -> PaymentRequired:
    """The 402 for a request that does not fit ``check``: names the budget, its size and reset."""
    money = check.limit_micros is not None and spent_micros + reserved_micros + needed_micros > check.limit_micros
    if money:
        assert check.limit_micros is not None
        limit, used, reserved, needed = check.limit_micros, spent_micros, reserved_micros, needed_micros
        size = format_usd(limit)
        left = format_usd(max(limit - used - reserved, 0))
        need = format_usd(needed)
        unit = "usd_micros"
    else:
        limit = check.limit_tokens or 0
        used, reserved, needed = spent_tokens, reserved_tokens, needed_tokens
        size, left, need = _tokens(limit), _tokens(max(limit - used - reserved, 0)), _tokens(needed)
        unit = "tokens"
    period = "daily" if check.key.scope == "user_day" else "monthly"
    kind = "budget" if money else "token budget"
    if check.key.scope.startswith("assistant"):
        subject = f"The {period} {kind} of the assistant '{check.assistant_name or check.key.subject_id}' ({size})"
    else:
        subject = f"Your {period} {kind} of {size}"
    if used + reserved >= limit:
        message = f"{subject} is used up ({_resets(check)})."
    else:
        message = f"{subject} does not cover this request: {left} left, up to {need} needed ({_resets(check)})."
    return PaymentRequired(message, code="budget_exceeded", details={
        "budget": check.name, "unit": unit, "limit": limit, "spent": used, "reserved": reserved,
        "needed": needed, "period": check.key.period, "resets_at": check.end.isoformat()})
