"""The upload phase of ``make bench`` (issue 12): one large upload on loopback (throughput and the
server's peak RSS growth), then concurrent uploads (errors), optionally while chat streams run.

The server runs with ``FILES__MAX_FILE_BYTES`` raised for the large file (``server_env``). Bodies are
streamed from a generator of one repeated chunk, so the load generator holds one chunk, not the file;
the content is text (``.txt``), so the server sniffs it, hashes it and extracts the first characters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bench.procs import Proc

CHUNK = (b"The quick brown fox jumps over the lazy dog. 0123456789\n" * 18_725)[: 1024 * 1024]
BOUNDARY = "bench-upload-boundary"
# The large file's limit on the server (bench/run.py server_env): above the default 25 MB.
MAX_FILE_BYTES = 160 * 1024 * 1024
QUOTA_BYTES = 64 * 1024 * 1024 * 1024


def rss_mib(pids: list[int]) -> float:
    """Sum of the current resident set (VmRSS) of the processes, MiB."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


async def sample_peak_rss(server: Proc, stop: asyncio.Event, every: float = 0.02) -> float:
    """The highest current RSS of the server seen until ``stop`` (its peak-RSS mark may predate us)."""
    peak = 0.0
    while not stop.is_set():
        peak = max(peak, rss_mib(server.pids()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
    return max(peak, rss_mib(server.pids()))


def server_settings() -> dict[str, str]:
    return {"FILES__MAX_FILE_BYTES": str(MAX_FILE_BYTES), "FILES__USER_QUOTA_BYTES": str(QUOTA_BYTES)}


async def _body(megabytes: int, name: str, salt: bytes) -> AsyncIterator[bytes]:
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
           "Content-Type: text/plain\r\n\r\n").encode()
    yield salt  # distinct bytes per upload: no deduplication
    for _ in range(megabytes):
        yield CHUNK
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def upload(client: httpx.AsyncClient, token: str, megabytes: int, name: str, salt: bytes) -> float:
    """One streamed upload; its duration in seconds (raises on a non-201)."""
    started = time.perf_counter()
    response = await client.post("/api/files", content=_body(megabytes, name, salt), headers={
        "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    if response.status_code != 201:
        raise RuntimeError(f"upload {name}: HTTP {response.status_code} {response.text[:200]}")
    return time.perf_counter() - started


async def run(base: str, token: str, server: Proc, *, large_mb: int = 100, concurrent: int = 20,
              concurrent_mb: int = 10,
              alongside: Callable[[], Awaitable[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """``alongside``: a chat phase to run while the concurrent uploads go (its result is returned)."""
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        await upload(client, token, 1, "warm.txt", b"warm\n")  # imports, first spool, first parse
        rss_before = rss_mib(server.pids())
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_peak_rss(server, stop))
        try:
            seconds = await upload(client, token, large_mb, "large.txt", f"{time.time()}\n".encode())
        finally:
            stop.set()
            rss_peak = await sampler

        # The concurrent uploads come from another process: sending 200 MB from this one would slow the
        # chat phase's own client and inflate the TTFT it measures.
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.upload", base, token, str(concurrent), str(concurrent_mb),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert process.stdin is not None and process.stdout is not None
        await process.stdout.readline()  # "ready": started and imported (that CPU is not the uploads')
        started = time.perf_counter()
        process.stdin.write(b"go\n")
        await process.stdin.drain()
        chat = await alongside() if alongside is not None else None
        output, _ = await process.communicate()
        wall = time.perf_counter() - started
    results = json.loads(output or b"[]")
    errors = [r for r in results if isinstance(r, str)] + (["no result"] if not results else [])
    return {
        "large": {"megabytes": large_mb, "seconds": seconds, "mb_per_s": large_mb / seconds,
                  "server_rss_before_mib": rss_before, "server_rss_peak_mib": rss_peak,
                  "server_peak_rss_growth_mib": rss_peak - rss_before},
        "concurrent": {"uploads": concurrent, "megabytes_each": concurrent_mb, "errors": len(errors),
                       "error_kinds": sorted(set(errors))[:5], "wall_seconds": wall},
        "chat_alongside": chat,
    }


async def _concurrent(base: str, token: str, count: int, megabytes: int) -> list[float | str]:
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "go"
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        async def one(i: int) -> float | str:
            try:
                return await upload(client, token, megabytes, f"c{i}.txt", f"{i} {time.time()}\n".encode())
            except (httpx.HTTPError, RuntimeError) as exc:
                return f"{type(exc).__name__}: {exc}"[:200]

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def targets(upload_result: dict[str, Any], baseline_ttft_p95: float | None) -> list[dict[str, Any]]:
    large, concurrent = upload_result["large"], upload_result["concurrent"]
    out = [
        {"target": f"{large['megabytes']} MB upload >= 200 MB/s on loopback",
         "value": f"{large['mb_per_s']:.0f} MB/s", "met": large["mb_per_s"] >= 200},
        {"target": f"{large['megabytes']} MB upload: server peak RSS growth <= 32 MB",
         "value": f"{large['server_peak_rss_growth_mib']:.1f} MiB", "met": large["server_peak_rss_growth_mib"] <= 32},
        {"target": f"{concurrent['uploads']} concurrent {concurrent['megabytes_each']} MB uploads: zero errors",
         "value": concurrent["errors"], "met": concurrent["errors"] == 0},
    ]
    chat = upload_result.get("chat_alongside")
    if chat and baseline_ttft_p95 and chat["stats"]["ttft_ms"]["p95"] is not None:
        p95 = chat["stats"]["ttft_ms"]["p95"]
        change = p95 / baseline_ttft_p95 - 1
        out.append({"target": f"{chat['users']} {chat['mode']} streams during the uploads: TTFT p95 moves < 20 %",
                    "value": f"{baseline_ttft_p95:.1f} -> {p95:.1f} ms ({change * 100:+.0f} %)",
                    "met": abs(change) < 0.2})
    return out


def text(upload_result: dict[str, Any]) -> str:
    large, concurrent = upload_result["large"], upload_result["concurrent"]
    return (f"upload: {large['megabytes']} MB in {large['seconds']:.2f}s ({large['mb_per_s']:.0f} MB/s), server "
            f"peak RSS +{large['server_peak_rss_growth_mib']:.1f} MiB; {concurrent['uploads']} x "
            f"{concurrent['megabytes_each']} MB concurrent: {concurrent['errors']} errors in "
            f"{concurrent['wall_seconds']:.1f}s")


if __name__ == "__main__":  # python -m bench.upload BASE TOKEN COUNT MEGABYTES: the concurrent uploads
    print(json.dumps(asyncio.run(_concurrent(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))))
