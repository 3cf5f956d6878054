"""The code interpreter benchmark: ``make bench-sandbox`` (or ``.venv/bin/python -m bench.sandbox``).

Runs real sandboxes (as root, like the server) with the settings of the environment:
- cold start: a new conversation's first call (uid, bwrap, interpreter ready, ``1``), target <= 1.5 s;
- warm round trip: ``print(1)`` in a live session, target p95 <= 100 ms;
- chart: a 10k-row CSV read with pandas, grouped by month and plotted with matplotlib (the first chart
  of a conversation: the imports are part of it), target <= 3 s.
``--busy N --seconds S`` instead keeps N sessions busy with CPU loops for S seconds, to run beside
``python -m bench.run`` (the platform's TTFT with sandboxes busy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agentcreator.core.config import get_settings
from agentcreator.sandbox import InputFile, SandboxManager

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"cold_start_s": 1.5, "warm_print_p95_ms": 100.0, "chart_s": 3.0}
CHART = """
import pandas as pd, matplotlib.pyplot as plt
df = pd.read_csv('/mnt/data/sales.csv', parse_dates=['date'])
monthly = df.groupby(df.date.dt.to_period('M')).revenue.sum()
monthly.plot(kind='bar', title='Revenue by month')
plt.tight_layout()
plt.show()
len(df)
"""


def make_csv(path: Path, rows: int = 10_000) -> None:
    rng = random.Random(7)
    lines = ["date,region,revenue"]
    for i in range(rows):
        lines.append(f"2025-{1 + i % 12:02d}-{1 + i % 28:02d},{rng.choice('NSEW')},{rng.uniform(10, 500):.2f}")
    path.write_text("\n".join(lines) + "\n")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def measure(manager: SandboxManager, runs: int, warm_calls: int, csv: Path) -> dict[str, Any]:
    cold: list[float] = []
    for i in range(runs):
        began = time.perf_counter()
        result = await manager.run(f"bench-cold-{i}", "1")
        cold.append(time.perf_counter() - began)
        assert result.session_started and result.value == "1", result
        await manager.end_session(f"bench-cold-{i}")
    await manager.run("bench-warm", "1")
    warm: list[float] = []
    for _ in range(warm_calls):
        began = time.perf_counter()
        result = await manager.run("bench-warm", "print(1)")
        warm.append((time.perf_counter() - began) * 1000)
        assert result.stdout == "1\n", result
    await manager.end_session("bench-warm")
    charts: list[float] = []
    for i in range(runs):
        key = f"bench-chart-{i}"
        await manager.run(key, "1")
        began = time.perf_counter()
        result = await manager.run(key, CHART, [InputFile("sales.csv", csv)])
        charts.append(time.perf_counter() - began)
        assert result.error is None and result.value == "10000", result.error
        assert [f.mime for f in result.files] == ["image/png"], result.files
        await manager.end_session(key)
    return {
        "cold_start_s": {"median": statistics.median(cold), "max": max(cold), "runs": cold},
        "warm_print_ms": {"p50": pct(warm, 50), "p95": pct(warm, 95), "max": max(warm)},
        "chart_s": {"median": statistics.median(charts), "max": max(charts), "runs": charts},
    }


async def keep_busy(manager: SandboxManager, sessions: int, seconds: float) -> None:
    code = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass"
    await asyncio.gather(*(manager.run(f"bench-busy-{i}", code) for i in range(sessions)))


async def main_async(args: argparse.Namespace) -> int:
    settings = get_settings()
    sandbox = settings.sandbox.model_copy(update={"timeout_seconds": max(settings.sandbox.timeout_seconds,
                                                                         args.seconds + 5)})
    with tempfile.TemporaryDirectory(prefix="agentcreator-bench-sandbox-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o711)  # bwrap reaches the work directories as the sessions' uids
        manager = SandboxManager(sandbox, root / "sandbox")
        try:
            if args.busy:
                await keep_busy(manager, args.busy, args.seconds)
                return 0
            csv = root / "sales.csv"
            make_csv(csv)
            results = await measure(manager, args.runs, args.warm_calls, csv)
        finally:
            await manager.close()
    checks = {
        "cold_start_s": results["cold_start_s"]["max"] <= TARGETS["cold_start_s"],
        "warm_print_p95_ms": results["warm_print_ms"]["p95"] <= TARGETS["warm_print_p95_ms"],
        "chart_s": results["chart_s"]["max"] <= TARGETS["chart_s"],
    }
    print(f"cold start     median {results['cold_start_s']['median']:.3f} s  max {results['cold_start_s']['max']:.3f} s"
          f"  (target <= {TARGETS['cold_start_s']} s)  {'ok' if checks['cold_start_s'] else 'MISSED'}")
    print(f"warm print(1)  p50 {results['warm_print_ms']['p50']:.1f} ms  p95 {results['warm_print_ms']['p95']:.1f} ms"
          f"  (target p95 <= {TARGETS['warm_print_p95_ms']:.0f} ms)  {'ok' if checks['warm_print_p95_ms'] else 'MISSED'}")
    print(f"10k-row chart  median {results['chart_s']['median']:.3f} s  max {results['chart_s']['max']:.3f} s"
          f"  (target <= {TARGETS['chart_s']} s)  {'ok' if checks['chart_s'] else 'MISSED'}")
    out = args.out or ROOT / "bench" / "results" / f"sandbox-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "targets": TARGETS, "met": checks,
                               "results": results}, indent=2))
    print(f"written to {out}")
    return 0 if all(checks.values()) else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sandbox", description="Code interpreter benchmark")
    p.add_argument("--runs", type=int, default=5, help="cold starts and charts, each in a new session")
    p.add_argument("--warm-calls", type=int, default=50)
    p.add_argument("--busy", type=int, default=0, help="only keep this many sessions busy (beside bench.run)")
    p.add_argument("--seconds", type=float, default=30.0, help="how long --busy keeps them busy")
    p.add_argument("--out", type=Path, default=None)
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
