"""Usage report schemas. Money is integer micro-dollars; tokens as the providers report them
(input includes cached, output includes reasoning)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from agentcreator.api.schemas.billing import BudgetLimits


class UsageTotals(BaseModel):
    calls: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    tool_calls: int
    cost_micros: int
    unpriced_calls: int = Field(description="calls of models without a price (counted as 0)")


class UsageGroup(UsageTotals):
    key: str | None = Field(description="the day (YYYY-MM-DD), assistant/conversation/user id, "
                                        "'provider/model' or kind; null for usage without one")
    label: str | None = Field(None, description="assistant name, conversation title or user email, when known")


class UsageReport(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    group_by: Literal["day", "assistant", "model", "conversation", "kind", "user", "tool"]
    user_id: str | None = Field(description="whose usage; null: everyone (administrators)")
    data: list[UsageGroup]
    totals: UsageTotals

    model_config = {"populate_by_name": True}


class DailyPoint(BaseModel):
    day: str | None
    cost_micros: int
    tokens: int
    calls: int


class BudgetStatus(BaseModel):
    budget: Literal["user_daily", "user_monthly"]
    unit: Literal["usd_micros", "tokens"]
    period: str
    limit: int
    spent: int
    reserved: int = Field(description="held by calls in flight")
    remaining: int
    resets_at: datetime


class UsageSummary(BaseModel):
    """The dashboard: this month and today, a daily series of this month, what is left of each budget."""

    month: str
    day: str
    month_totals: UsageTotals
    today_totals: UsageTotals
    daily: list[DailyPoint]
    budgets: list[BudgetStatus]
    limits: BudgetLimits
