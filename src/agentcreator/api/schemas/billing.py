"""Price table and budget schemas. Money is integer micro-dollars (1 USD = 1,000,000)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from agentcreator.api.schemas.common import Page, StrictInput

Micros = Annotated[int, Field(ge=0, le=10**15)]
Tokens = Annotated[int, Field(ge=0, le=10**15)]
# "provider/model" or "*/model"; the model part may end with "*" (a prefix).
Pattern = Annotated[str, StringConstraints(max_length=200, pattern=r"^(\*|[a-z0-9][a-z0-9_.-]{0,62})/[^\s/*][^\s*]*\*?$")]
ToolName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,100}$")]


class ModelPriceIn(StrictInput):
    pattern: Pattern
    input_per_1m: Micros = Field(description="micro-dollars per 1M input tokens")
    cached_input_per_1m: Micros | None = Field(None, description="micro-dollars per 1M cached input tokens; "
                                                                 "null: billed as input")
    output_per_1m: Micros = Field(description="micro-dollars per 1M output tokens (reasoning included)")


class ToolPriceIn(StrictInput):
    tool: ToolName
    per_1k_calls: Micros = Field(description="micro-dollars per 1,000 calls")


def _unique_patterns(items: list[ModelPriceIn]) -> list[ModelPriceIn]:
    seen = [i.pattern for i in items]
    duplicates = sorted({p for p in seen if seen.count(p) > 1})
    if duplicates:
        raise PydanticCustomError("duplicate_pattern", "duplicate model patterns: {names}",
                                  {"names": ", ".join(duplicates)})
    return items


def _unique_tools(items: list[ToolPriceIn]) -> list[ToolPriceIn]:
    seen = [i.tool for i in items]
    duplicates = sorted({t for t in seen if seen.count(t) > 1})
    if duplicates:
        raise PydanticCustomError("duplicate_tool", "duplicate tools: {names}", {"names": ", ".join(duplicates)})
    return items


class PricesUpdate(StrictInput):
    """The whole new price table (it becomes a new version; earlier costs keep their version)."""

    note: Annotated[str, Field(max_length=500)] = ""
    models: Annotated[list[ModelPriceIn], Field(max_length=1000), AfterValidator(_unique_patterns)]
    tools: Annotated[list[ToolPriceIn], Field(max_length=100), AfterValidator(_unique_tools)] = []


class PriceVersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    created_by: str | None
    note: str


class PriceVersionsPublic(Page[PriceVersionPublic]):
    pass


class PriceVersionBrief(BaseModel):
    """A price version as every user sees it: no administrator's id."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    note: str


class CurrentPricesPublic(BaseModel):
    version: PriceVersionBrief
    models: list[ModelPriceIn]
    tools: list[ToolPriceIn]


class PricesPublic(BaseModel):
    version: PriceVersionPublic
    models: list[ModelPriceIn]
    tools: list[ToolPriceIn]


class BudgetLimits(BaseModel):
    """Per-user limits; null means unlimited."""

    user_daily_micros: Micros | None = None
    user_monthly_micros: Micros | None = None
    user_daily_tokens: Tokens | None = None
    user_monthly_tokens: Tokens | None = None


class BudgetLimitsUpdate(BudgetLimits, StrictInput):
    """Only the fields sent change; null sets "unlimited"."""


class UserBudgetPublic(BaseModel):
    user_id: str
    overrides: BudgetLimitsUpdate = Field(description="What this user's limits override (absent keys inherit)")
    overridden: list[str]
    effective: BudgetLimits
