"""Pricing math, by hand from the PROTOCOLS.md list prices (micro-dollars per 1M tokens)."""

from __future__ import annotations

import pytest

from agentcreator.billing.pricing import (
    DEFAULT_MODEL_RATES,
    DEFAULT_TOOL_FEES,
    ModelRate,
    PriceTable,
    format_usd,
    max_call_cost,
    price_call,
    round_half_up,
)

TABLE = PriceTable(version=7, models=tuple(DEFAULT_MODEL_RATES), tools=dict(DEFAULT_TOOL_FEES))


def test_uncached_cost_is_input_plus_output_rounded_half_up() -> None:
    # gpt-4o-mini: 42 x $0.15/1M + 4 x $0.60/1M = $0.0000087 -> 8.7 micro-dollars -> 9
    cost = price_call(TABLE, "openai", "gpt-4o-mini", input_tokens=42, output_tokens=4)
    assert (cost.micros, cost.priced, cost.version) == (9, True, 7)


def test_cached_tokens_are_a_subset_of_input_at_the_cached_rate() -> None:
    # gpt-4o-mini: 600 x 0.15 + 400 x 0.075 + 200 x 0.60 = 90 + 30 + 120 = 240 micro-dollars
    cost = price_call(TABLE, "openai", "gpt-4o-mini", input_tokens=1000, cached_input_tokens=400, output_tokens=200)
    assert cost.micros == 240
    # gpt-5: 1,000,000 x 1.25 ... 200k uncached x 1.25 + 800k cached x 0.125 + 10k x 10.00 = 250k + 100k + 100k
    big = price_call(TABLE, "x", "gpt-5", input_tokens=1_000_000, cached_input_tokens=800_000, output_tokens=10_000)
    assert big.micros == 450_000


def test_a_model_without_a_cached_rate_bills_cached_tokens_as_input() -> None:
    # gpt-4.1-nano: 1000 x 0.10 + 100 x 0.40 = 100 + 40
    cost = price_call(TABLE, "openai", "gpt-4.1-nano", input_tokens=1000, cached_input_tokens=500, output_tokens=100)
    assert cost.micros == 140


def test_rounding_happens_once_at_the_end_half_up() -> None:
    # gpt-5-mini: 2 x 0.25 = 0.5 micro-dollars -> 1; 1 x 0.25 -> 0
    assert price_call(TABLE, "p", "gpt-5-mini", input_tokens=2, output_tokens=0).micros == 1
    assert price_call(TABLE, "p", "gpt-5-mini", input_tokens=1, output_tokens=0).micros == 0
    # 3 x 0.15 (0.45) + 1 x 0.075 (cached) = 0.525 -> 1; rounding each part would give 0
    assert price_call(TABLE, "p", "gpt-4o-mini", input_tokens=4, cached_input_tokens=1, output_tokens=0).micros == 1
    assert round_half_up(1_499_999, 1_000_000) == 1 and round_half_up(1_500_000, 1_000_000) == 2
    with pytest.raises(ValueError):
        round_half_up(-1, 10)


def test_cached_count_above_input_is_clamped() -> None:
    assert price_call(TABLE, "p", "gpt-4o", input_tokens=10, cached_input_tokens=50, output_tokens=0).micros == \
        price_call(TABLE, "p", "gpt-4o", input_tokens=10, cached_input_tokens=10, output_tokens=0).micros


def test_tool_fees_are_per_call() -> None:
    # web search $10 / 1k calls = 10,000 micro-dollars per call; file search $2.50 / 1k = 2,500
    cost = price_call(TABLE, "openai", "gpt-4o-mini", input_tokens=0, output_tokens=0,
                      tool_calls={"web_search": 3, "file_search": 1})
    assert (cost.micros, cost.priced) == (32_500, True)
    unknown = price_call(TABLE, "openai", "gpt-4o-mini", input_tokens=0, output_tokens=0, tool_calls={"fax": 1})
    assert (unknown.micros, unknown.priced) == (0, False)


def test_unknown_models_cost_nothing_and_are_flagged() -> None:
    cost = price_call(TABLE, "ollama", "llama3", input_tokens=5000, output_tokens=5000)
    assert (cost.micros, cost.priced, cost.version) == (0, False, 7)
    assert max_call_cost(TABLE, "ollama", "llama3", prompt_tokens=10, max_output_tokens=10) == 0


def test_local_models_cost_nothing_but_are_priced() -> None:
    cost = price_call(TABLE, "local", "gpt-4o", input_tokens=5000, output_tokens=5000, local=True)
    assert (cost.micros, cost.priced, cost.local) == (0, True, True)


def test_most_specific_pattern_wins() -> None:
    table = PriceTable(1, (
        ModelRate("*/gpt-4o", 1_000_000, None, 0),
        ModelRate("azure/gpt-4o", 2_000_000, None, 0),
        ModelRate("*/gpt-4o-*", 3_000_000, None, 0),
        ModelRate("*/gpt-4o-2024-*", 4_000_000, None, 0),
    ))
    one_m = {"input_tokens": 1_000_000, "output_tokens": 0}
    assert price_call(table, "openai", "gpt-4o", **one_m).micros == 1_000_000
    assert price_call(table, "azure", "gpt-4o", **one_m).micros == 2_000_000
    assert price_call(table, "openai", "gpt-4o-audio", **one_m).micros == 3_000_000
    assert price_call(table, "openai", "gpt-4o-2024-08-06", **one_m).micros == 4_000_000
    assert price_call(table, "openai", "gpt-4", **one_m).priced is False


def test_max_cost_charges_the_whole_prompt_at_full_rate_and_rounds_up() -> None:
    # gpt-4o-mini: 10 x 0.15 + 100 x 0.60 = 1.5 + 60 = 61.5 -> 62 (a reservation never falls short)
    assert max_call_cost(TABLE, "p", "gpt-4o-mini", prompt_tokens=10, max_output_tokens=100) == 62
    assert max_call_cost(TABLE, "p", "gpt-4o-mini", prompt_tokens=10, max_output_tokens=100, local=True) == 0


def test_money_is_formatted_from_integers() -> None:
    assert format_usd(1_000_000) == "$1.00"
    assert format_usd(1_234_567_890) == "$1,234.57"
    assert format_usd(0) == "$0.00"
    assert format_usd(4_200) == "$0.0042"
    assert format_usd(15_000) == "$0.02"
