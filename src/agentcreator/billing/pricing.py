"""Pure pricing math: rates in integer micro-dollars, never floats.

Rates are micro-dollars per 1M tokens (``input``, ``cached_input``, ``output``) and micro-dollars
per 1,000 calls for tool fees. The cost of a call is

    (input - cached) * input + cached * cached_input + output * output + calls * fee * 1000

in micro-dollars x 1e6, rounded half up to whole micro-dollars once, at the end. ``input_tokens``
includes the cached ones and ``output_tokens`` includes reasoning (see :class:`llm.types.Usage`).

Model patterns: ``provider/model`` matches one provider's model, ``*/model`` the model at any
provider; a model part ending in ``*`` matches a prefix (``*/gpt-4o-2024-*``). The most specific
pattern wins: a named provider over ``*``, an exact model over a prefix, a longer prefix over a
shorter one. A model without a pattern is priced 0 and flagged (``priced=False``), never refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

MICROS_PER_USD = 1_000_000
_SCALE = 1_000_000  # rates are per 1M tokens; tool fees per 1k calls are scaled by 1000 to match


@dataclass(frozen=True)
class ModelRate:
    pattern: str
    input: int
    cached_input: int | None  # None: cached tokens are billed at the input rate
    output: int

    def matches(self, provider: str, model: str) -> tuple[int, int, int] | None:
        """A specificity key when the pattern matches ``provider/model`` (higher is more specific)."""
        want_provider, _, want_model = self.pattern.partition("/")
        if want_provider not in ("*", provider):
            return None
        if want_model.endswith("*"):
            prefix = want_model[:-1]
            if not model.startswith(prefix):
                return None
            return (int(want_provider != "*"), 0, len(prefix))
        if want_model != model:
            return None
        return (int(want_provider != "*"), 1, len(want_model))


@dataclass(frozen=True)
class PriceTable:
    version: int | None
    models: tuple[ModelRate, ...] = ()
    tools: Mapping[str, int] = field(default_factory=dict)  # micro-dollars per 1,000 calls

    def rate_for(self, provider: str, model: str) -> ModelRate | None:
        best: tuple[tuple[int, int, int], ModelRate] | None = None
        for rate in self.models:
            key = rate.matches(provider, model)
            if key is not None and (best is None or key > best[0]):
                best = (key, rate)
        return best[1] if best else None


@dataclass(frozen=True)
class Cost:
    micros: int
    priced: bool  # False: no price known for the model (or a tool): counted as 0
    version: int | None
    local: bool = False

    def doc(self) -> dict[str, object]:
        return {"cost_micros": self.micros, "priced": self.priced, "price_version": self.version,
                "local": self.local}


def round_half_up(numerator: int, denominator: int) -> int:
    if numerator < 0 or denominator <= 0:
        raise ValueError("costs are never negative")
    return (numerator + denominator // 2) // denominator


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _token_numerator(rate: ModelRate, input_tokens: int, cached_tokens: int, output_tokens: int) -> int:
    cached = min(max(cached_tokens, 0), input_tokens)
    cached_rate = rate.input if rate.cached_input is None else rate.cached_input
    return (input_tokens - cached) * rate.input + cached * cached_rate + output_tokens * rate.output


def price_call(table: PriceTable, provider: str, model: str, *, input_tokens: int, cached_input_tokens: int = 0,
               output_tokens: int, tool_calls: Mapping[str, int] | None = None, local: bool = False) -> Cost:
    """The cost of one model call (and the tool calls it made)."""
    if local:
        return Cost(0, True, table.version, local=True)
    rate = table.rate_for(provider, model)
    priced = rate is not None
    numerator = _token_numerator(rate, input_tokens, cached_input_tokens, output_tokens) if rate else 0
    for tool, calls in (tool_calls or {}).items():
        fee = table.tools.get(tool)
        if fee is None:
            priced = False
            continue
        numerator += calls * fee * (_SCALE // 1000)
    return Cost(round_half_up(numerator, _SCALE), priced, table.version)


def max_call_cost(table: PriceTable, provider: str, model: str, *, prompt_tokens: int, max_output_tokens: int,
                  local: bool = False) -> int:
    """The most a call can cost: every prompt token at the full input rate, the whole reply budget
    at the output rate, rounded up (a reservation never falls short by rounding)."""
    if local:
        return 0
    rate = table.rate_for(provider, model)
    if rate is None:
        return 0
    return ceil_div(prompt_tokens * rate.input + max_output_tokens * rate.output, _SCALE)


def format_usd(micros: int) -> str:
    """``$1.00``, ``$0.0042`` (small amounts keep their significant digits), from integer micros."""
    amount = Decimal(micros) / MICROS_PER_USD
    if micros == 0 or abs(micros) >= 10_000:
        return f"${amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
    return f"${amount.normalize():f}"


# The defaults the first migration seeds (PROTOCOLS.md, dated; admins keep them current). Used
# again only when the price table is found empty.
DEFAULT_MODEL_RATES: Sequence[ModelRate] = (
    ModelRate("*/gpt-4o", 2_500_000, 1_250_000, 10_000_000),
    ModelRate("*/gpt-4o-mini", 150_000, 75_000, 600_000),
    ModelRate("*/gpt-4.1", 2_000_000, 500_000, 8_000_000),
    ModelRate("*/gpt-4.1-mini", 400_000, 100_000, 1_600_000),
    ModelRate("*/gpt-4.1-nano", 100_000, None, 400_000),
    ModelRate("*/gpt-5", 1_250_000, 125_000, 10_000_000),
    ModelRate("*/gpt-5-mini", 250_000, 25_000, 2_000_000),
    ModelRate("*/gpt-5-nano", 50_000, None, 400_000),
)
DEFAULT_TOOL_FEES: Mapping[str, int] = {
    "web_search": 10_000_000, "web_search_preview": 25_000_000, "file_search": 2_500_000,
    "code_interpreter": 30_000_000,
}
