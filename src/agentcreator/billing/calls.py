"""What a metered call is and holds: its target (who pays, for which model), its quote (the most it can
cost, and the budgets it counts against) and its reservation."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from agentcreator.billing.budgets import BudgetCheck
from agentcreator.billing.pricing import ceil_div
from agentcreator.repositories.budgets import LedgerKey

# The smallest reply worth sending: a call whose full reply allowance does not fit a budget is sent
# with its reply capped to what remains, if at least this much remains (see Billing.reserve_quote).
USEFUL_REPLY_TOKENS = 64


@dataclass(frozen=True)
class Reservation:
    id: str
    keys: tuple[LedgerKey, ...]
    micros: int
    tokens: int
    # Set when the reply allowance was capped to fit a budget: the call must be sent with at most
    # this many output tokens (``max_output_tokens``).
    capped_output_tokens: int | None = None


@dataclass(frozen=True)
class AssistantBudget:
    id: str
    name: str
    monthly_micros: int | None = None
    monthly_tokens: int | None = None


class BudgetedAssistant(Protocol):
    """What a call target needs of an assistant (an ORM ``Assistant`` or a turn start's read of it)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def budget_monthly_micros(self) -> int | None: ...
    @property
    def budget_monthly_tokens(self) -> int | None: ...


@dataclass(frozen=True)
class CallTarget:
    """What is called and for whom: enough to price, reserve and record it."""

    user_id: str
    provider: str
    model: str
    local: bool = False
    assistant: AssistantBudget | None = None
    conversation_id: str | None = None

    @classmethod
    def of(cls, user_id: str, assistant: BudgetedAssistant, *, local: bool, conversation_id: str | None) -> CallTarget:
        """The target of a call made with ``assistant``'s model ("provider/model")."""
        provider, _, model = assistant.model.partition("/")
        return cls(user_id=user_id, provider=provider, model=model, local=local, conversation_id=conversation_id,
                   assistant=AssistantBudget(assistant.id, assistant.name, assistant.budget_monthly_micros,
                                             assistant.budget_monthly_tokens))


@dataclass(frozen=True)
class Quote:
    """The most a call can cost, and every budget it counts against: computed before the write
    transaction (reads only), reserved in it (:meth:`Billing.reserve_quote`)."""

    user_id: str
    micros: int
    tokens: int
    checks: tuple[BudgetCheck, ...]
    prompt_tokens: int = 0
    output_tokens: int = 0  # the reply allowance quoted
    # > 0: when the allowance does not fit, the reply may be capped down to this many tokens instead
    # of refusing the call (:meth:`Billing.reserve_quote`).
    min_output_tokens: int = 0
    input_rate: int = 0  # micro-dollars per 1M tokens (0: free, local or unpriced)
    output_rate: int = 0

    def with_output(self, output_tokens: int) -> Quote:
        """This call with a reply allowance of ``output_tokens`` (never capped further)."""
        micros = ceil_div(self.prompt_tokens * self.input_rate + output_tokens * self.output_rate, 1_000_000) \
            if self.input_rate or self.output_rate else 0
        return replace(self, micros=micros, tokens=self.prompt_tokens + output_tokens, output_tokens=output_tokens,
                       min_output_tokens=0)

    def output_room(self, check: BudgetCheck, row: Any) -> int | None:
        """The largest reply allowance that fits ``check`` besides the prompt (None: no limit)."""
        spent_micros, reserved_micros, spent_tokens, reserved_tokens = (
            (row.spent_micros, row.reserved_micros, row.spent_tokens, row.reserved_tokens) if row else (0, 0, 0, 0))
        room: int | None = None
        if check.limit_tokens is not None:
            room = check.limit_tokens - spent_tokens - reserved_tokens - self.prompt_tokens
        if check.limit_micros is not None and (self.input_rate or self.output_rate):
            money = (check.limit_micros - spent_micros - reserved_micros) * 1_000_000 - self.prompt_tokens * self.input_rate
            fits = money // self.output_rate if self.output_rate else (self.output_tokens if money >= 0 else -1)
            room = fits if room is None else min(room, fits)
        return room
