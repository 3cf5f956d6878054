"""The retrieval benchmark's ``turn`` phase: what automatic retrieval adds to a chat turn's time to first
token, through the real server (``python -m bench.retrieval --phases turn``).

The server runs on a fresh SQLite data dir with the bench's stub model declared without tool calling,
so an assistant with a knowledge base gets automatic retrieval before each turn (the user's message is
the query: the query's embedding with the embedded MiniLM model, both rankings, the passages in the
prompt). The base holds ``chunks`` chunks of generated text with random unit vectors, written straight
into the server's database as the latency phase does. One user sends turns to two assistants on the
same model, interleaved: one with the base, one without. The figure is TTFT p50 with retrieval minus
TTFT p50 without. Target (issue 15): at most 30 ms at 10k chunks.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from agentcreator.db.session import create_engine, create_session_factory
from bench.client import HttpConnection, platform_sse_turn
from bench.procs import Proc, free_port
from bench.retrieval import TextGenerator, _fill
from bench.runs import server_env

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Quiet-Harbor-2041-bench"
TARGET_MS = 30.0


def _env(tmp: Path, stub_port: int) -> dict[str, str]:
    env = server_env(tmp, stub_port)  # the agent-runs bench's server settings (limits off, cheap hashing)
    env["LLM__COMPATIBLE_ENDPOINTS"] = json.dumps([{
        "name": "stub", "base_url": f"http://127.0.0.1:{stub_port}/v1",
        "models": [{"name": "stub-model", "tools": False}]}])  # no tool calling: automatic retrieval
    return env


async def _setup(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        r = await client.post("/api/auth/register", json={"name": "Reader", "email": "reader@example.com",
                                                          "password": PASSWORD, "confirmPassword": PASSWORD})
        r.raise_for_status()
        r = await client.post("/api/auth/login", json={"email": "reader@example.com", "password": PASSWORD})
        r.raise_for_status()
        token = r.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        user_id = r.json()["user"]["id"]
        r = await client.post("/api/knowledge-bases", headers=headers, json={"name": "bench"})
        r.raise_for_status()
        base_id = r.json()["id"]
        out = {"token": token, "user_id": user_id, "base_id": base_id}
        for kind, tools in (("plain", []), ("knowledge", [{"type": "file_search", "knowledge_base_ids": [base_id]}])):
            r = await client.post("/api/assistants", headers=headers, json={
                "name": kind, "model": "stub/stub-model", "tools": tools, "max_messages": 10_000,
                "parameters": {"max_output_tokens": 8}})
            r.raise_for_status()
            r = await client.post("/api/conversations", headers=headers, json={"assistant_id": r.json()["id"]})
            r.raise_for_status()
            out[kind] = r.json()["id"]
        return out


async def _probe(port: int, user: dict[str, Any], queries: list[str], warmup: int) -> dict[str, list[float]]:
    conn = HttpConnection("127.0.0.1", port)
    ttft: dict[str, list[float]] = {"plain": [], "knowledge": []}
    try:
        for i, query in enumerate(queries):
            for kind in ("plain", "knowledge"):
                turn = await platform_sse_turn(conn, user["token"], user[kind], query)
                if turn.error:
                    raise RuntimeError(f"{kind} turn failed: {turn.error}")
                if i >= warmup and turn.ttft is not None:
                    ttft[kind].append(turn.ttft * 1000)
    finally:
        conn.close()
    return ttft


async def _cited_answers(base: str, user: dict[str, Any]) -> int:
    """How many answers of the knowledge conversation cite a passage (automatic retrieval ran)."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        r = await client.get(f"/api/conversations/{user['knowledge']}/messages",
                             headers={"Authorization": f"Bearer {user['token']}"}, params={"limit": 200})
        r.raise_for_status()
    return sum(1 for message in r.json()["data"] if message["role"] == "assistant"
               and any(part.get("type") == "citation" for part in message.get("content") or ()))


async def turn_phase(tmp: Path, chunks: int, turns: int, dimensions: int) -> dict[str, Any]:
    stub_port, port = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server_tmp = tmp / "turn"
    server_tmp.mkdir()
    procs: list[Proc] = []
    try:
        stub = Proc("stub", [sys.executable, "-m", "bench.stub", "--port", str(stub_port), "--tokens", "8",
                             "--ttft", "0.05", "--itl", "0.002"], env, server_tmp / "stub.log", ROOT, None)
        procs.append(stub)
        stub.wait_http(f"http://127.0.0.1:{stub_port}/v1/models")
        server = Proc("server", [str(VENV_BIN / "agentcreator"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                      _env(server_tmp, stub_port), server_tmp / "server.log", server_tmp, None)
        procs.append(server)
        server.wait_http(f"http://127.0.0.1:{port}/health")
        user = await _setup(f"http://127.0.0.1:{port}")
        engine = create_engine(f"sqlite+aiosqlite:///{(server_tmp / 'data' / 'agentcreator.db').resolve()}")
        generator = TextGenerator(seed=13)
        started = time.perf_counter()
        sample = await _fill(create_session_factory(engine), user["user_id"], user["base_id"], chunks, dimensions,
                             generator)
        await engine.dispose()
        fill = time.perf_counter() - started
        warmup = 3
        queries = [generator.query_from(generator.rng.choice(sample)) for _ in range(turns + warmup)]
        ttft = await _probe(port, user, queries, warmup)
        cited = await _cited_answers(f"http://127.0.0.1:{port}", user)
        if cited < turns:  # the figure means nothing unless the passages really went into each turn
            raise RuntimeError(f"only {cited} of the answers with the knowledge base cite a passage")
    finally:
        for proc in reversed(procs):
            proc.stop()
    plain, knowledge = statistics.median(ttft["plain"]), statistics.median(ttft["knowledge"])
    added = knowledge - plain
    return {"chunks": chunks, "turns": len(ttft["plain"]), "answers_citing_passages": cited,
            "fill_seconds": round(fill, 1),
            "ttft_p50_ms": {"without": round(plain, 2), "with_retrieval": round(knowledge, 2)},
            "retrieval_adds_p50_ms": round(added, 2), "target_ms": TARGET_MS, "met": added <= TARGET_MS}
