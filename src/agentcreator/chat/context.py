"""Context policy: which history messages are sent to the model.

The window keeps the last N messages of the active branch; then the oldest are dropped until the
request fits the model's context length minus the reply budget. The newest message is always kept
(a single message too large for the model is refused with a clear error).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from agentcreator.core.errors import ValidationFailed

T = TypeVar("T")


@dataclass
class ContextPlan(Generic[T]):
    kept: list[T]
    dropped_by_window: list[T] = field(default_factory=list)
    dropped_by_budget: list[T] = field(default_factory=list)
    token_counts: dict[int, int] = field(default_factory=dict)  # id(item) -> tokens
    instructions_tokens: int = 0
    budget_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.instructions_tokens + sum(self.token_counts[id(m)] for m in self.kept)


def plan_context(
    history: Sequence[T],
    *,
    window: int,
    context_length: int,
    reply_budget: int,
    instructions_tokens: int,
    count: Callable[[T], int],
) -> ContextPlan[T]:
    """``history`` is chronological and ends with the message being answered."""
    if not history:
        raise ValueError("a turn needs at least one message")
    budget = context_length - reply_budget - instructions_tokens
    windowed = list(history[-window:]) if window > 0 else [history[-1]]
    plan: ContextPlan[T] = ContextPlan(kept=[], dropped_by_window=list(history[: len(history) - len(windowed)]),
                                       instructions_tokens=instructions_tokens,
                                       budget_tokens=context_length - reply_budget)
    for item in windowed:
        plan.token_counts[id(item)] = count(item)
    newest = windowed[-1]
    if plan.token_counts[id(newest)] > budget:
        raise ValidationFailed(
            f"The message is too long for this model: about {plan.token_counts[id(newest)]} tokens, "
            f"but only {max(budget, 0)} fit after the instructions and the reply budget.",
            code="context_too_long",
        )
    used = 0
    kept_reversed: list[T] = []
    for index, item in enumerate(reversed(windowed)):
        tokens = plan.token_counts[id(item)]
        if used + tokens > budget:
            plan.dropped_by_budget = list(windowed[: len(windowed) - index])
            break
        used += tokens
        kept_reversed.append(item)
    plan.kept = list(reversed(kept_reversed))
    return plan
