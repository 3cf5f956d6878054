from __future__ import annotations

import pytest

from agentcreator.chat.context import plan_context
from agentcreator.core.errors import ValidationFailed


def count_words(text: str) -> int:
    return len(text.split())


def test_window_keeps_the_last_n_messages() -> None:
    history = [f"m{i}" for i in range(30)]
    plan = plan_context(history, window=20, context_length=10_000, reply_budget=100,
                        instructions_tokens=0, count=count_words)
    assert plan.kept == history[-20:]
    assert plan.dropped_by_window == history[:10]
    assert plan.dropped_by_budget == []


def test_budget_drops_the_oldest_first_and_keeps_the_newest() -> None:
    history = ["a " * 40, "b " * 40, "c " * 40, "d " * 10]  # 40, 40, 40, 10 tokens
    plan = plan_context(history, window=20, context_length=200, reply_budget=100,
                        instructions_tokens=5, count=count_words)
    # budget for messages: 200 - 100 - 5 = 95 → "d" (10) + "c" (40) + "b" (40) = 90 fits, "a" does not
    assert plan.kept == history[1:]
    assert plan.dropped_by_budget == history[:1]
    assert plan.total_tokens == 95


def test_a_newest_message_too_large_is_refused_clearly() -> None:
    with pytest.raises(ValidationFailed) as info:
        plan_context(["x " * 500], window=20, context_length=300, reply_budget=100,
                     instructions_tokens=0, count=count_words)
    assert info.value.code == "context_too_long"
    assert "too long" in info.value.message


def test_budget_gap_keeps_only_a_contiguous_recent_suffix() -> None:
    history = ["small", "huge " * 120, "small2"]
    plan = plan_context(history, window=20, context_length=150, reply_budget=40,
                        instructions_tokens=0, count=count_words)
    assert plan.kept == ["small2"]  # never skips over a dropped message to keep an older one
