"""The reply room a budget has left (pure math): the capped call's rounded-up cost always fits, and one
token more would not."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from types import SimpleNamespace

from agentcreator.billing.budgets import UserLimits, checks_for
from agentcreator.billing.calls import Quote
from agentcreator.billing.pricing import ModelRate, PriceTable, max_call_cost


def _quote(prompt: int, output: int, rate: ModelRate | None) -> Quote:
    table = PriceTable(1, (rate,) if rate else ())
    micros = max_call_cost(table, "p", "m", prompt_tokens=prompt, max_output_tokens=output)
    checks = checks_for(datetime(2026, 12, 5, tzinfo=UTC), "u", UserLimits())
    return Quote("u", micros, prompt + output, tuple(checks), prompt, output, 64,
                 rate.input if rate else 0, rate.output if rate else 0)


def _row(spent_micros: int = 0, reserved_micros: int = 0, spent_tokens: int = 0, reserved_tokens: int = 0) -> object:
    return SimpleNamespace(spent_micros=spent_micros, reserved_micros=reserved_micros, spent_tokens=spent_tokens,
                           reserved_tokens=reserved_tokens)


def test_with_output_prices_like_the_full_quote() -> None:
    rate = ModelRate("p/m", 150_000, 75_000, 600_000)
    quote = _quote(37, 1000, rate)
    assert quote.with_output(1000).micros == quote.micros and quote.with_output(1000).tokens == quote.tokens
    small = quote.with_output(64)
    table = PriceTable(1, (rate,))
    assert small.micros == max_call_cost(table, "p", "m", prompt_tokens=37, max_output_tokens=64)
    assert (small.tokens, small.output_tokens, small.min_output_tokens) == (37 + 64, 64, 0)
    assert _quote(37, 1000, None).with_output(100).micros == 0  # unpriced: free, held to token budgets only


def test_the_money_room_always_fits_and_is_the_most_that_does() -> None:
    generator = random.Random(17)
    for _ in range(2000):
        rate = ModelRate("p/m", generator.randint(0, 5_000_000), None, generator.randint(1, 20_000_000))
        prompt = generator.randint(0, 5000)
        quote = _quote(prompt, 4096, rate)
        limit, spent, reserved = generator.randint(0, 50_000), generator.randint(0, 20_000), generator.randint(0, 5000)
        check = checks_for(datetime(2026, 12, 5, tzinfo=UTC), "u", UserLimits(user_daily_micros=limit))[0]
        room = quote.output_room(check, _row(spent, reserved))
        assert room is not None
        left = limit - spent - reserved
        if room >= 0:
            assert quote.with_output(room).micros <= left < quote.with_output(room + 1).micros
        else:  # not even the prompt fits
            assert quote.with_output(0).micros > left


def test_the_token_room_is_what_is_left_beside_the_prompt() -> None:
    quote = _quote(40, 1000, None)
    check = checks_for(datetime(2026, 12, 5, tzinfo=UTC), "u", UserLimits(user_daily_tokens=300))[0]
    assert quote.output_room(check, _row(spent_tokens=100, reserved_tokens=50)) == 300 - 150 - 40
    assert quote.output_room(check, None) == 260
    unlimited = checks_for(datetime(2026, 12, 5, tzinfo=UTC), "u", UserLimits())[0]
    assert quote.output_room(unlimited, _row()) is None


def test_both_limits_take_the_tighter() -> None:
    rate = ModelRate("p/m", 0, None, 1_000_000)  # one micro-dollar a reply token
    quote = _quote(10, 1000, rate)
    check = checks_for(datetime(2026, 12, 5, tzinfo=UTC), "u",
                       UserLimits(user_daily_micros=500, user_daily_tokens=200))[0]
    assert quote.output_room(check, _row()) == 190  # tokens: 200 - 10; money would allow 500
    check = checks_for(datetime(2026, 12, 5, tzinfo=UTC), "u",
                       UserLimits(user_daily_micros=100, user_daily_tokens=200))[0]
    assert quote.output_room(check, _row()) == 100
