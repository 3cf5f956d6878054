"""The hot-path benchmark: ``make bench`` (or ``.venv/bin/python -m bench.run --help``).

Starts the stub model server and the real server (``agentcreator serve``) on a fresh SQLite data
dir in a temp directory (``--pg``: a fresh PostgreSQL database ``agentcreator_bench`` and Redis db
14, several workers), creates users, assistants and conversations through the public API, then for
each concurrency level runs the same streamed turns straight to the stub (``direct``) and through the
platform over SSE and WebSocket. Each user streams in its own conversation, back to back, started
staggered over ``--ramp`` seconds, for ``--duration`` seconds. A latency probe (1 user, short replies,
interleaved direct/SSE/WS) measures the per-turn overhead precisely. Then the local model: the
platform vs llama-cpp-python called directly with the same prompt and settings.

Prints a table with ratios platform/direct and the targets of issue 6; writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import local as local_bench
from bench import report
from bench import upload as upload_bench
from bench.client import HttpConnection, Turn, WsUser, direct_body, direct_turn, platform_sse_turn
from bench.procs import Proc, free_port
from bench.stub import run as run_loop

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PROMPT = "Tell me a short story about a cat."
PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
PG_DB = "agentcreator_bench"
# Users chat back to back in one conversation per phase: no continuation at the default 50-message cap.
MAX_MESSAGES = 10_000


@dataclass
class User:
    token: str
    assistant_id: str
    conversations: dict[tuple[int, str], str] = field(default_factory=dict)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Agent Creator hot-path benchmark", prog="python -m bench.run")
    p.add_argument("--levels", default="1,10,50,200", help="concurrent users, comma-separated")
    p.add_argument("--modes", default="direct,sse,ws", help="direct (straight to the stub), sse, ws")
    p.add_argument("--duration", type=float, default=8.0, help="seconds of steady load per phase")
    p.add_argument("--ramp", type=float, default=2.5, help="users start spread over this many seconds")
    p.add_argument("--tokens", type=int, default=128, help="reply length in tokens")
    p.add_argument("--ttft", type=float, default=0.05, help="stub first-token delay (s)")
    p.add_argument("--itl", type=float, default=0.02, help="stub inter-token delay (s)")
    p.add_argument("--max-turns", type=int, default=20, help="turns per user per phase at most")
    p.add_argument("--turn-timeout", type=float, default=60.0, help="a turn not finished by then is an error")
    p.add_argument("--probe-turns", type=int, default=40, help="latency probe turns per mode (0: skip)")
    p.add_argument("--local-runs", type=int, default=9,
                   help="local model runs per side, in alternating pairs (0: skip; few pairs are noisy)")
    p.add_argument("--local-tokens", type=int, default=128)
    p.add_argument("--no-warm-users", dest="warm_users", action="store_false",
                   help="skip the one turn per user before the phases (first turn of the day: budget rows)")
    p.add_argument("--pg", action="store_true", help="PostgreSQL + Redis, several workers")
    p.add_argument("--workers", type=int, default=None, help="server workers (default 1; 2 with --pg)")
    p.add_argument("--pin", action="store_true",
                   help="pin the server to CPU 1 and the stub + load generator to CPU 0")
    p.add_argument("--profile", action="store_true",
                   help="py-spy record the server during the top level's SSE phase")
    p.add_argument("--no-upload", dest="upload", action="store_false", help="skip the upload phase")
    p.add_argument("--upload-mb", type=int, default=100, help="the large upload's size (MB)")
    p.add_argument("--upload-chat-users", type=int, default=50,
                   help="SSE streams running during the concurrent uploads (a level of --levels; 0: none)")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/bench-<time>.json)")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (logs, database)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting for the server (repeatable), e.g. CHAT__CHECKPOINT_SECONDS=1000000 to compare "
                        "without checkpoints")
    return p.parse_args(argv)


def server_env(args: argparse.Namespace, tmp: Path, stub_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM__", "CHAT__", "AUTH__", "DATABASE_URL",
                                                                     "REDIS_URL", "DATA_DIR", "FAIR_USE__"))}
    env.update({
        "DATA_DIR": str(tmp / "data"),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "LLM__COMPATIBLE_ENDPOINTS": json.dumps([{"name": "stub", "base_url": f"http://127.0.0.1:{stub_port}/v1",
                                                  "models": ["stub-model"]}]),
        "LLM__LOCAL_ENABLED": "true" if args.local_runs else "false",
        "LLM__GENERATE_TITLES": "false",  # a one-off call per conversation, not the hot path
        # Registration is not what we measure: cheap hashing so 500 users register in seconds.
        "AUTH__ARGON2_TIME_COST": "1", "AUTH__ARGON2_MEMORY_COST": "8192",
        "AUTH__ACCESS_TOKEN_MINUTES": "240",
        **upload_bench.server_settings(),
        # Every bench user registers and signs in from 127.0.0.1, and sends as fast as it can: the
        # per-address and fair-use limits of a shared server are not what is measured here.
        "AUTH__REGISTRATIONS_PER_ADDRESS": "100000", "AUTH__LOGIN_FREE_ATTEMPTS_PER_ADDRESS": "100000",
        "FAIR_USE__MAX_CONCURRENT_TURNS": "1000", "FAIR_USE__TURNS_PER_MINUTE": "100000",
    })
    if args.pg:
        env["DATABASE_URL"] = f"postgresql+asyncpg://root@127.0.0.1:5432/{PG_DB}"
        env["REDIS_URL"] = "redis://127.0.0.1:6379/14"
    for item in args.server_env:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def fresh_pg() -> None:
    for sql in (f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)", f"CREATE DATABASE {PG_DB}"):
        subprocess.run(["psql", PG_ADMIN, "-q", "-c", sql], check=True)
    subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=True, stdout=subprocess.DEVNULL)


# --- setup through the public API -----------------------------------------------------------------

async def setup(base: str, users: int, levels: list[int], modes: list[str], tokens: int) -> list[User]:
    out: list[User] = []
    sem = asyncio.Semaphore(8)
    platform_modes = [m for m in modes if m != "direct"]
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        async def one(i: int) -> User:
            async with sem:
                password = "Bench-pass-123"
                r = await client.post("/api/auth/register", json={
                    "name": f"Bench {i}", "email": f"bench{i}@example.com", "password": password,
                    "confirmPassword": password})
                r.raise_for_status()  # no tokens: sign in (docs/security.md)
                r = await client.post("/api/auth/login", json={"email": f"bench{i}@example.com",
                                                                "password": password})
                r.raise_for_status()
                headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
                r = await client.post("/api/assistants", headers=headers, json={
                    "name": "Bench", "model": "stub/stub-model", "parameters": {"max_output_tokens": tokens},
                    "max_messages": MAX_MESSAGES})
                r.raise_for_status()
                user = User(token=headers["Authorization"][7:], assistant_id=r.json()["id"])
                for level in [lv for lv in levels if lv > i] + [0]:  # level 0: the latency probe
                    for mode in platform_modes:
                        r = await client.post("/api/conversations", headers=headers,
                                              json={"assistant_id": user.assistant_id})
                        r.raise_for_status()
                        user.conversations[(level, mode)] = r.json()["id"]
                return user

        out = list(await asyncio.gather(*(one(i) for i in range(users))))
    return out


# --- phases ---------------------------------------------------------------------------------------

async def run_phase(mode: str, level: int, users: list[User], args: argparse.Namespace, server_port: int,
                    stub_port: int, server: Proc, stub: Proc) -> dict[str, Any]:
    turns: list[Turn] = []
    tagged: dict[str, Turn] = {}
    conns: list[Any] = []
    if mode == "ws":
        conns = [WsUser(f"ws://127.0.0.1:{server_port}/api/ws", u.token) for u in users[:level]]
        sem = asyncio.Semaphore(20)

        async def connect(c: WsUser) -> None:
            async with sem:
                await c.connect()
        await asyncio.gather(*(connect(c) for c in conns))
    else:
        port = stub_port if mode == "direct" else server_port
        conns = [HttpConnection("127.0.0.1", port) for _ in range(level)]

    t0 = time.perf_counter() + 0.2
    window = (t0 + args.ramp, t0 + args.ramp + args.duration)

    async def user_loop(i: int) -> None:
        await asyncio.sleep(max(0.0, t0 + args.ramp * i / level - time.perf_counter()))
        conn, conversation = conns[i], users[i].conversations.get((level, mode), "")
        for n in range(args.max_turns):
            if time.perf_counter() >= window[1]:
                return
            tag = f"{i}.{n}"  # the stub reports its timings under this tag
            prompt = f"{PROMPT} #{tag}"
            if mode == "direct":
                attempt = direct_turn(conn, direct_body(prompt, args.tokens))
            elif mode == "sse":
                attempt = platform_sse_turn(conn, users[i].token, conversation, prompt)
            else:
                attempt = conn.turn(conversation, prompt)
            sent = time.perf_counter()
            try:
                turn = await asyncio.wait_for(attempt, timeout=args.turn_timeout)
            except TimeoutError:
                turn = Turn(sent=sent, error=f"no answer within {args.turn_timeout:.0f}s")
                conns[i] = HttpConnection(conn.host, conn.port) if isinstance(conn, HttpConnection) else conn
                if isinstance(conn, HttpConnection):
                    conn.close()
                else:
                    conn.ws = None
                conn = conns[i]
            turns.append(turn)
            tagged[tag] = turn
            if turn.error is not None:
                await asyncio.sleep(0.5)

    await stub_timings(stub_port)  # forget earlier requests'
    cpu0, stub_cpu0, own0 = server.cpu(), stub.cpu(), time.process_time()
    wall0 = time.perf_counter()
    profiler = start_profiler(server, args, mode, level)
    try:
        await asyncio.gather(*(user_loop(i) for i in range(level)))
    finally:
        stop_profiler(profiler)
        for c in conns:
            if isinstance(c, WsUser):
                await c.close()
            else:
                c.close()
    wall = time.perf_counter() - wall0
    cpu = server.cpu() - cpu0 if mode != "direct" else 0.0
    split = ttft_split(tagged, await stub_timings(stub_port), window)
    return {"mode": mode, "users": level, "wall_s": wall, "stats": report.summarize(turns, window), "split": split,
            "server_cpu_s": cpu, "server_cpu_pct": 100 * cpu / wall, "server_rss_mib": server.rss(),
            "stub_cpu_s": stub.cpu() - stub_cpu0, "loadgen_cpu_s": time.process_time() - own0}


async def stub_timings(stub_port: int) -> list[list[Any]]:
    """The stub's (request arrived, first token written, tag) since the last call (it forgets them)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stub_port}", timeout=10) as client:
        r = await client.get("/v1/_bench/timings")
        r.raise_for_status()
        return r.json()


def ttft_split(tagged: dict[str, Turn], timings: list[list[Any]], window: tuple[float, float]) -> dict[str, Any]:
    """Each steady-window turn's time to first token in two parts, on the stub's clock (the same
    CLOCK_MONOTONIC): ``before`` = sent -> its upstream request arrived (the turn start), ``after`` =
    the stub wrote the first token -> the client had it (the relay)."""
    before: list[float] = []
    after: list[float] = []
    for arrived, first_written, tag in timings:
        turn = tagged.get(tag)
        if turn is None or turn.first is None or not window[0] <= turn.sent < window[1]:
            continue
        before.append((arrived - turn.sent) * 1000)
        after.append((turn.first - first_written) * 1000)
    return {"turns": len(before), **{k: {"p50": report.pct(v, 50), "p95": report.pct(v, 95)}
                                     for k, v in (("before_ms", before), ("after_ms", after))}}


def start_profiler(server: Proc, args: argparse.Namespace, mode: str, level: int) -> Any:
    top = max(int(x) for x in args.levels.split(","))
    if not args.profile or mode != "sse" or level != top:
        return None
    spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    out = ROOT / "bench" / "results" / f"profile-{time.strftime('%Y%m%d-%H%M%S')}"
    argv = [spy, "record", "--pid", str(server.pid), "--rate", "200", "--format", "raw", "-o", f"{out}.txt",
            "--duration", str(int(args.ramp + args.duration)), "--subprocesses", "--gil"]
    print(f"profiling the server: {out}.txt", flush=True)
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def stop_profiler(profiler: Any) -> None:
    if profiler is None:
        return
    proc, out = profiler
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    if Path(f"{out}.txt").exists():
        from bench.profile_summary import summarize_file

        Path(f"{out}.summary.txt").write_text(summarize_file(Path(f"{out}.txt")))


async def warm_users(users: list[User], server_port: int, mode: str) -> None:
    """One turn per user before the phases, in its latency-probe conversation: a user's first turn of
    the day also creates its budget ledger rows (three rows, ~15 statements more than a usual turn
    start). Without this, whichever phase ran first paid it for all of them (with 200 users starting
    within the ramp, that alone made the SSE phase's TTFT p95 ~1.3-2 s and the WebSocket phase's
    ~0.2 s on the same code). ``--no-warm-users`` measures cold users."""
    sem = asyncio.Semaphore(50)

    async def one(user: User) -> None:
        async with sem:
            conn = HttpConnection("127.0.0.1", server_port)
            try:
                turn = await platform_sse_turn(conn, user.token, user.conversations[(0, mode)], PROMPT)
            finally:
                conn.close()
            if turn.error is not None:
                raise RuntimeError(f"warm-up turn failed: {turn.error}")

    await asyncio.gather(*(one(user) for user in users))


async def probe(users: list[User], args: argparse.Namespace, server_port: int, stub_port: int,
                modes: list[str]) -> dict[str, Any]:
    """1 user, short replies, direct/SSE/WS interleaved: the platform's per-turn latency overhead."""
    short = 8
    user = users[0]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server_port}", timeout=60) as client:
        r = await client.post("/api/assistants", headers={"Authorization": f"Bearer {user.token}"}, json={
            "name": "Probe", "model": "stub/stub-model", "parameters": {"max_output_tokens": short},
            "max_messages": MAX_MESSAGES})
        r.raise_for_status()
        assistant = r.json()["id"]

        async def conversation() -> str:
            r = await client.post("/api/conversations", headers={"Authorization": f"Bearer {user.token}"},
                                  json={"assistant_id": assistant})
            r.raise_for_status()
            return r.json()["id"]

        direct = HttpConnection("127.0.0.1", stub_port)
        sse = HttpConnection("127.0.0.1", server_port)
        ws = WsUser(f"ws://127.0.0.1:{server_port}/api/ws", user.token)
        if "ws" in modes:
            await ws.connect()
        turns: dict[str, list[Turn]] = {m: [] for m in modes}
        # Per turn, from the stub's clock: before = request sent -> upstream request arrived (the turn
        # start), after = first token written by the stub -> first token received (the relay).
        split: dict[str, dict[str, list[float]]] = {m: {"before_ms": [], "after_ms": []} for m in modes}
        stub_client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{stub_port}", timeout=10)
        body = direct_body(PROMPT, short)
        conv = {m: "" for m in modes}
        for i in range(args.probe_turns + 2):  # two warm-up rounds
            if i % 10 == 0:
                for m in modes:
                    if m != "direct":
                        conv[m] = await conversation()
            for m in modes:
                if m == "direct":
                    t = await direct_turn(direct, body)
                elif m == "sse":
                    t = await platform_sse_turn(sse, user.token, conv[m], PROMPT)
                else:
                    t = await ws.turn(conv[m], PROMPT)
                timings = (await stub_client.get("/v1/_bench/timings")).json()
                if i >= 2:
                    turns[m].append(t)
                    if timings and t.first is not None:
                        arrived, first_written, _ = timings[-1]
                        split[m]["before_ms"].append((arrived - t.sent) * 1000)
                        split[m]["after_ms"].append((t.first - first_written) * 1000)
        await stub_client.aclose()
        direct.close()
        sse.close()
        await ws.close()
    return {m: {**report.summarize(ts, (0.0, 1.0)),
                **{k: {"p50": report.pct(v, 50), "p95": report.pct(v, 95)} for k, v in split[m].items()}}
            for m, ts in turns.items()}


async def bench(args: argparse.Namespace, server: Proc, stub: Proc, server_port: int,
                stub_port: int) -> dict[str, Any]:
    levels = [int(x) for x in args.levels.split(",") if x]
    modes = [m for m in args.modes.split(",") if m]
    base = f"http://127.0.0.1:{server_port}"
    started = time.perf_counter()
    users = await setup(base, max(levels), levels, modes, args.tokens)
    print(f"set up {len(users)} users through the API in {time.perf_counter() - started:.1f}s", flush=True)
    # Warm-up: imports, tokenizer, pools.
    platform_modes = [m for m in modes if m != "direct"]
    warm = HttpConnection("127.0.0.1", server_port)
    for _ in range(2 if platform_modes else 0):
        await platform_sse_turn(warm, users[0].token, users[0].conversations[(0, platform_modes[-1])], PROMPT)
    warm.close()
    if platform_modes and args.warm_users:
        started = time.perf_counter()
        await warm_users(users[1:], server_port, platform_modes[-1])
        print(f"warmed {len(users) - 1} users (one turn each) in {time.perf_counter() - started:.1f}s", flush=True)
    result: dict[str, Any] = {"probe": None, "phases": []}
    if args.probe_turns:
        result["probe"] = await probe(users, args, server_port, stub_port, modes)
        p = result["probe"]
        print("latency probe (1 user, 8-token replies): TTFT p50 " + ", ".join(
            f"{m} {p[m]['ttft_ms']['p50']:.2f} ms" for m in modes if p[m]['ttft_ms']['p50'] is not None), flush=True)
    for level in levels:
        for mode in modes:
            phase = await run_phase(mode, level, users, args, server_port, stub_port, server, stub)
            s = phase["stats"]
            print(f"  {level:>4} users {mode:<6} turns {s['turns']:>5} errors {s['errors']:>3} "
                  f"ttft p50 {report._f(s['ttft_ms']['p50'])} ms p95 {report._f(s['ttft_ms']['p95'])} ms "
                  f"agg {s['aggregate_tokens_per_s']:.0f} tok/s server cpu {phase['server_cpu_pct']:.0f}% "
                  f"loadgen cpu {phase['loadgen_cpu_s']:.1f}s stub cpu {phase['stub_cpu_s']:.1f}s", flush=True)
            if s["error_kinds"]:
                print(f"        errors: {s['error_kinds']}", flush=True)
            result["phases"].append(phase)
    if args.upload:
        result["upload"] = await upload_phase(args, users, levels, modes, server, stub, server_port, stub_port)
        print(upload_bench.text(result["upload"]), flush=True)
    return result


async def upload_phase(args: argparse.Namespace, users: list[User], levels: list[int], modes: list[str],
                       server: Proc, stub: Proc, server_port: int, stub_port: int) -> dict[str, Any]:
    """The large upload, then the concurrent ones while --upload-chat-users SSE streams run (when that
    level was benchmarked: its TTFT p95 is the baseline)."""
    chat_users = args.upload_chat_users
    alongside = None
    if chat_users in levels and "sse" in modes:
        async def alongside() -> dict[str, Any]:
            return await run_phase("sse", chat_users, users, args, server_port, stub_port, server, stub)
    return await upload_bench.run(f"http://127.0.0.1:{server_port}", users[0].token, server,
                                  large_mb=args.upload_mb, alongside=alongside)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.workers = args.workers or (2 if args.pg else 1)
    tmp = Path(tempfile.mkdtemp(prefix="agentcreator-bench-"))
    stub_port, server_port = free_port(), free_port()
    load0 = os.getloadavg()
    if args.pin:
        os.sched_setaffinity(0, {0})
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs: list[Proc] = []
    try:
        stub = Proc("stub", [sys.executable, "-m", "bench.stub", "--port", str(stub_port), "--tokens",
                             str(args.tokens), "--ttft", str(args.ttft), "--itl", str(args.itl)],
                    env, tmp / "stub.log", ROOT, {0} if args.pin else None)
        procs.append(stub)
        stub.wait_http(f"http://127.0.0.1:{stub_port}/v1/models")
        if args.pg:
            fresh_pg()
        argv = [str(VENV_BIN / "agentcreator"), "serve", "--host", "127.0.0.1", "--port", str(server_port)]
        if args.workers > 1:
            argv += ["--workers", str(args.workers)]
        server = Proc("server", argv, server_env(args, tmp, stub_port), tmp / "server.log", tmp,
                      {1} if args.pin else None)
        procs.append(server)
        server.wait_http(f"http://127.0.0.1:{server_port}/health")
        print(f"stub :{stub_port} (pid {stub.pid}), server :{server_port} (pid {server.pid}, "
              f"{args.workers} worker(s), {'PostgreSQL + Redis' if args.pg else 'SQLite'}), temp dir {tmp}",
              flush=True)
        result = run_loop(bench(args, server, stub, server_port, stub_port))
        local = None
        if args.local_runs:
            local = local_bench.run(f"http://127.0.0.1:{server_port}", result_token(server_port),
                                    args.local_runs, args.local_tokens)
        idle_rss = server.rss()
    finally:
        for proc in reversed(procs):
            proc.stop()
    targets = report.check_targets(result["probe"], result["phases"], local)
    if result.get("upload"):
        baseline = next((p["stats"]["ttft_ms"]["p95"] for p in result["phases"]
                         if p["mode"] == "sse" and p["users"] == args.upload_chat_users), None)
        targets += upload_bench.targets(result["upload"], baseline)
    doc = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": {k: str(v) if isinstance(v, Path) else v
                                                                for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load0, "python": platform.python_version(),
                    "platform": platform.platform()},
        "server_peak_rss_mib": idle_rss, **result, "local": local, "targets": targets,
    }
    out = args.out or ROOT / "bench" / "results" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, default=str))
    print()
    print(report.table(result["phases"]))
    if result["probe"]:
        p = result["probe"]
        print("\nlatency probe, 1 user, 8-token replies (ms):  " + "  ".join(
            f"{m}: ttft p50 {report._f(p[m]['ttft_ms']['p50'], 2)} p95 {report._f(p[m]['ttft_ms']['p95'], 2)}"
            for m in p))
        print("  where (p50): " + "  ".join(
            f"{m}: to upstream {report._f(p[m]['before_ms']['p50'], 2)}, first token back "
            f"{report._f(p[m]['after_ms']['p50'], 2)}" for m in p if p[m].get("before_ms")))
    split_lines = [
        f"  {ph['users']:>4} {ph['mode']:<6} to upstream p50 {report._f(sp['before_ms']['p50'], 1)} "
        f"p95 {report._f(sp['before_ms']['p95'], 1)}, first token back p50 {report._f(sp['after_ms']['p50'], 1)} "
        f"p95 {report._f(sp['after_ms']['p95'], 1)}"
        for ph in result["phases"] if (sp := ph.get("split")) and sp["turns"]]
    if split_lines:
        print("\nwhere the time to first token goes (ms; the stub's clock, steady window):\n" + "\n".join(split_lines))
    if local:
        print("\n" + local_bench.text(local))
    print("\ntargets:\n" + report.targets_text(targets))
    print(f"\nJSON: {out}")
    if args.keep:
        print(f"temp dir kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def result_token(server_port: int) -> str:
    """A fresh user for the local-model part (registration, then one successful sign-in)."""
    password = "Bench-pass-123"
    r = httpx.post(f"http://127.0.0.1:{server_port}/api/auth/register", timeout=60, json={
        "name": "Local", "email": "bench-local@example.com", "password": password, "confirmPassword": password})
    r.raise_for_status()
    r = httpx.post(f"http://127.0.0.1:{server_port}/api/auth/login", timeout=60,
                   json={"email": "bench-local@example.com", "password": password})
    r.raise_for_status()
    return r.json()["access_token"]


if __name__ == "__main__":
    sys.exit(main())
