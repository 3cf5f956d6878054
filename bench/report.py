"""Statistics of a phase, the printed table, and the targets of issue 6."""

from __future__ import annotations

import statistics
from typing import Any

from bench.client import Turn


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def in_window(turn: Turn, start: float, end: float) -> float:
    """Tokens of the turn delivered inside [start, end], assuming a steady rate from first to last."""
    if turn.first is None or turn.last is None:
        return 0.0
    if turn.last <= turn.first:
        return turn.tokens if start <= turn.first <= end else 0.0
    overlap = max(0.0, min(end, turn.last) - max(start, turn.first))
    return turn.tokens * overlap / (turn.last - turn.first)


def summarize(turns: list[Turn], window: tuple[float, float]) -> dict[str, Any]:
    ok = [t for t in turns if t.error is None]
    ttft = [t.ttft * 1000 for t in ok if t.ttft is not None]
    e2e = [t.e2e * 1000 for t in ok if t.e2e is not None]
    rates = [r for t in ok if (r := t.stream_rate) is not None]
    start, end = window
    errors: dict[str, int] = {}
    for t in turns:
        if t.error is not None:
            key = t.error[:80]
            errors[key] = errors.get(key, 0) + 1
    return {
        "turns": len(turns), "errors": sum(errors.values()), "error_kinds": errors,
        "ttft_ms": {"p50": pct(ttft, 50), "p95": pct(ttft, 95), "p99": pct(ttft, 99),
                    "mean": statistics.fmean(ttft) if ttft else None},
        "e2e_ms": {"p50": pct(e2e, 50), "p95": pct(e2e, 95), "p99": pct(e2e, 99)},
        "stream_tokens_per_s": {"p50": pct(rates, 50), "p5": pct(rates, 5)},
        "tokens": sum(t.tokens for t in turns),
        "aggregate_tokens_per_s": sum(in_window(t, start, end) for t in turns) / max(1e-9, end - start),
    }


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}"


HEADER = (f"{'users':>5} {'mode':<7} {'turns':>5} {'err':>4} {'ttft p50':>8} {'p95':>7} {'p99':>7} "
          f"{'e2e p50':>8} {'p95':>7} {'tok/s/str':>9} {'agg tok/s':>9} {'srv cpu s':>9} {'cpu %':>6} "
          f"{'rss MiB':>7}")


def table(phases: list[dict[str, Any]]) -> str:
    lines = [HEADER, "-" * len(HEADER)]
    by_level: dict[int, dict[str, dict[str, Any]]] = {}
    for phase in phases:
        by_level.setdefault(phase["users"], {})[phase["mode"]] = phase
    for level, modes in by_level.items():
        direct = modes.get("direct")
        for mode, p in modes.items():
            s = p["stats"]
            lines.append(
                f"{level:>5} {mode:<7} {s['turns']:>5} {s['errors']:>4} {_f(s['ttft_ms']['p50']):>8} "
                f"{_f(s['ttft_ms']['p95']):>7} {_f(s['ttft_ms']['p99']):>7} {_f(s['e2e_ms']['p50'], 0):>8} "
                f"{_f(s['e2e_ms']['p95'], 0):>7} {_f(s['stream_tokens_per_s']['p50']):>9} "
                f"{_f(s['aggregate_tokens_per_s'], 0):>9} {_f(p['server_cpu_s'], 2):>9} "
                f"{_f(p['server_cpu_pct'], 0):>6} {_f(p['server_rss_mib'], 0):>7}")
            if direct is not None and mode != "direct":
                d = direct["stats"]
                lines.append(
                    f"{'':>5} {'  ratio':<7} {'':>5} {'':>4} {_ratio(s['ttft_ms']['p50'], d['ttft_ms']['p50']):>8} "
                    f"{_ratio(s['ttft_ms']['p95'], d['ttft_ms']['p95']):>7} "
                    f"{_ratio(s['ttft_ms']['p99'], d['ttft_ms']['p99']):>7} "
                    f"{_ratio(s['e2e_ms']['p50'], d['e2e_ms']['p50']):>8} "
                    f"{_ratio(s['e2e_ms']['p95'], d['e2e_ms']['p95']):>7} "
                    f"{_ratio(s['stream_tokens_per_s']['p50'], d['stream_tokens_per_s']['p50']):>9} "
                    f"{_ratio(s['aggregate_tokens_per_s'], d['aggregate_tokens_per_s']):>9}")
    return "\n".join(lines)


def check_targets(probe: dict[str, Any] | None, phases: list[dict[str, Any]],
                  local: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The targets of issue 6, each with the measured value and whether it is met."""
    out: list[dict[str, Any]] = []
    if probe:
        d = probe["direct"]["ttft_ms"]["p50"]
        for mode in ("sse", "ws"):
            if mode in probe and d is not None and probe[mode]["ttft_ms"]["p50"] is not None:
                overhead = probe[mode]["ttft_ms"]["p50"] - d
                out.append({"target": f"1 user, {mode}: TTFT overhead p50 < 5 ms",
                            "value": f"{overhead:+.2f} ms", "met": overhead < 5})
    top = max((p["users"] for p in phases), default=0)
    modes = {p["mode"]: p for p in phases if p["users"] == top}
    direct = modes.get("direct")
    for mode in ("sse", "ws"):
        p = modes.get(mode)
        if p is None or direct is None:
            continue
        s, d = p["stats"], direct["stats"]
        out.append({"target": f"{top} users, {mode}: zero errors", "value": s["errors"], "met": s["errors"] == 0})
        if s["ttft_ms"]["p95"] is not None and d["ttft_ms"]["p95"] is not None:
            limit = 1.5 * d["ttft_ms"]["p95"] + 50
            out.append({"target": f"{top} users, {mode}: TTFT p95 <= 1.5 x direct + 50 ms ({limit:.0f} ms)",
                        "value": f"{s['ttft_ms']['p95']:.1f} ms", "met": s["ttft_ms"]["p95"] <= limit})
        ratio = s["aggregate_tokens_per_s"] / max(1e-9, d["aggregate_tokens_per_s"])
        out.append({"target": f"{top} users, {mode}: aggregate tokens/s >= 90 % of direct",
                    "value": f"{ratio * 100:.1f} %", "met": ratio >= 0.9})
    if local and local.get("ratio") is not None:
        out.append({"target": "local model: tokens/s >= 95 % of direct llama-cpp-python",
                    "value": f"{local['ratio'] * 100:.1f} %", "met": local["ratio"] >= 0.95})
    return out


def targets_text(targets: list[dict[str, Any]]) -> str:
    return "\n".join(f"  [{'ok' if t['met'] else 'MISSED'}] {t['target']}: {t['value']}" for t in targets)
