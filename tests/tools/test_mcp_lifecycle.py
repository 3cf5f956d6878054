"""MCP sessions over their lifetime, against real MCP servers (HTTP and stdio): timeouts, cancellation
mid-call and while connecting, servers that die or never answer, idle close, the pool's limit and close,
concurrent calls on one session, and edits while calls are in flight. Nothing may be left running."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path

import pytest

from agentcreator.core.config import McpSettings
from agentcreator.tools.mcp import McpClientPool, McpServerConfig, McpToolError, McpToolFactory
from tests.tools.conftest import http_config, stdio_config
from tests.tools.mcp_helpers import (
    CONTEXT,
    Directory,
    alive,
    children_running,
    mcp_tasks,
    read_marker,
    server_processes,
    wait_for,
)
from tests.tools.mcp_test_server import McpHttpServer


async def test_a_stdio_server_that_dies_fails_the_call_and_the_next_call_reconnects(pool: McpClientPool) -> None:
    config = stdio_config()
    pid = int((await pool.call_tool(config, "pid", {})).content[0].text)  # type: ignore[union-attr]
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(McpToolError) as gone:
        await pool.call_tool(config, "echo", {"text": "hi"})
    assert gone.value.code == "mcp_unreachable"
    again = await pool.call_tool(config, "pid", {})
    assert int(again.content[0].text) != pid  # type: ignore[union-attr]


@pytest.mark.parametrize("transport", ["streamable_http", "stdio"])
async def test_a_call_past_its_timeout_is_a_tool_error_and_the_server_stops_the_work(
        transport: str, mcp_http: McpHttpServer, pool: McpClientPool, tmp_path: Path) -> None:
    config = (http_config(mcp_http, id="slow", call_timeout_seconds=0.5) if transport == "streamable_http"
              else stdio_config(call_timeout_seconds=0.5))
    await pool.list_tools(config)  # the session is open: the timeout is the call's alone
    marker = tmp_path / "marker"
    with pytest.raises(McpToolError) as late:
        await pool.call_tool(config, "slow", {"seconds": 30, "marker": str(marker)})
    assert late.value.code == "mcp_timeout" and "within 0.5 s" in late.value.message
    await wait_for(marker, "cancelled")  # the SDK told the server, which cancelled the tool
    assert (await pool.call_tool(config, "echo", {"text": "next"})).content[0].text == "next"  # type: ignore[union-attr]


@pytest.mark.parametrize("transport", ["streamable_http", "stdio"])
async def test_cancelling_a_call_midway_leaves_nothing_running(
        transport: str, mcp_http: McpHttpServer, pool: McpClientPool, tmp_path: Path) -> None:
    config = http_config(mcp_http, id="cancel") if transport == "streamable_http" else stdio_config()
    factory = McpToolFactory(Directory(config), pool, pool.settings)
    slow = next(t for t in await factory.tools_for({"type": "mcp", "server": config.name, "tools": ["slow"]},
                                                   CONTEXT))
    before, processes = mcp_tasks(), server_processes()
    marker = tmp_path / "marker"
    run = asyncio.create_task(slow.run({"seconds": 30, "marker": str(marker)}, CONTEXT))
    await wait_for(marker, "started")
    assert mcp_tasks() - before  # the call is seen running (so the check below can fail)
    run.cancel()  # the user's stop
    with pytest.raises(asyncio.CancelledError):
        await run
    await wait_for(marker, "cancelled")  # the server's tool was cancelled, not left sleeping
    await asyncio.sleep(0.1)
    leftover = mcp_tasks() - before
    assert leftover == set(), [t.get_name() for t in leftover]
    assert (await pool.call_tool(config, "echo", {"text": "after"})).content[0].text == "after"  # type: ignore[union-attr]
    await pool.aclose()  # and closing the pool ends the sessions (and the stdio server process)
    assert server_processes() - processes == set()
    assert mcp_tasks() - before == set()


async def test_cancelled_while_connecting_leaves_no_session_or_process(pool: McpClientPool) -> None:
    config = stdio_config(id="connecting")
    before, processes = mcp_tasks(), server_processes()
    call = asyncio.create_task(pool.call_tool(config, "echo", {"text": "x"}))
    await asyncio.sleep(0.05)  # the subprocess is starting
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    for _ in range(200):
        if not mcp_tasks() - before:
            break
        await asyncio.sleep(0.05)
    assert {t.get_name() for t in mcp_tasks() - before} == set()
    assert pool.open_sessions == 0
    for _ in range(100):  # the subprocess, if it had started, is ended too
        if not server_processes() - processes:
            break
        await asyncio.sleep(0.1)
    assert server_processes() - processes == set()


async def test_idle_sessions_close_and_their_processes_exit() -> None:
    pool = McpClientPool(McpSettings(idle_close_seconds=0.4))
    try:
        config = stdio_config(id="idle")
        pid = int((await pool.call_tool(config, "pid", {})).content[0].text)  # type: ignore[union-attr]
        assert pool.open_sessions == 1
        for _ in range(100):
            if pool.open_sessions == 0 and not alive(pid):
                break
            await asyncio.sleep(0.1)
        assert pool.open_sessions == 0 and not alive(pid)
        # A later call opens a new session.
        assert int((await pool.call_tool(config, "pid", {})).content[0].text) != pid  # type: ignore[union-attr]
    finally:
        await pool.aclose()


async def test_closing_the_pool_ends_every_session_and_process(mcp_http: McpHttpServer) -> None:
    pool = McpClientPool(McpSettings(max_open_sessions=1))
    pids: list[int] = []
    for index in range(2):  # the second session closes the least recently used one
        pids.append(int((await pool.call_tool(stdio_config(id=f"s{index}"), "pid", {})).content[0].text))  # type: ignore[union-attr]
    assert pool.open_sessions == 1
    await pool.list_tools(http_config(mcp_http, id="h"))  # and an HTTP session
    assert pool.open_sessions == 1
    await pool.aclose()
    assert pool.open_sessions == 0
    assert not any(alive(pid) for pid in pids)
    with pytest.raises(McpToolError):
        await pool.list_tools(stdio_config())


@pytest.mark.parametrize("transport", ["streamable_http", "stdio"])
async def test_concurrent_calls_share_one_session(transport: str, mcp_http: McpHttpServer, pool: McpClientPool,
                                                  tmp_path: Path) -> None:
    config = http_config(mcp_http, id="parallel") if transport == "streamable_http" else stdio_config()
    markers = [tmp_path / f"m{i}" for i in range(3)]
    calls = [asyncio.create_task(pool.call_tool(config, "slow", {"seconds": 3, "marker": str(m)}))
             for m in markers]
    for marker in markers:
        await wait_for(marker, "started")
    assert [read_marker(m) for m in markers] == ["started"] * 3  # all three run on the server at once
    results = await asyncio.gather(*calls)
    assert [r.content[0].text for r in results] == ["slept 3.0"] * 3  # type: ignore[union-attr]
    assert all(read_marker(m) == "finished" for m in markers)
    assert pool.open_sessions == 1


async def test_a_server_that_never_answers_the_handshake_times_out_and_is_cleaned_up(pool: McpClientPool) -> None:

    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        configs = [
            McpServerConfig(id="mute-http", name="mute", transport="streamable_http", connect_timeout_seconds=0.5,
                            url=f"http://127.0.0.1:{silent.getsockname()[1]}/mcp"),
            McpServerConfig(id="mute-stdio", name="mute", transport="stdio", command="/bin/sleep", args=("30",),
                            connect_timeout_seconds=0.5),
        ]
        before = mcp_tasks()
        for config in configs:
            with pytest.raises(McpToolError) as mute:
                await pool.list_tools(config)
            assert mute.value.code == "mcp_unreachable"
            assert mute.value.message == "MCP server 'mute' did not answer within 0.5 s"
        assert {t.get_name() for t in mcp_tasks() - before} == set()
        assert children_running("/bin/sleep") == set()
        assert pool.open_sessions == 0
    finally:
        silent.close()


async def test_forgetting_a_server_lets_calls_in_flight_finish_then_closes_its_session(
        pool: McpClientPool, tmp_path: Path) -> None:
    config = stdio_config(id="edited")
    pid = int((await pool.call_tool(config, "pid", {})).content[0].text)  # type: ignore[union-attr]
    marker = tmp_path / "marker"
    call = asyncio.create_task(pool.call_tool(config, "slow", {"seconds": 1.0, "marker": str(marker)}))
    await wait_for(marker, "started")
    pool.forget(config.id)  # what an admin's edit or delete does
    assert pool.open_sessions == 0  # new calls get a new session...
    assert (await call).content[0].text == "slept 1.0"  # type: ignore[union-attr]  # ...this one finished
    for _ in range(100):
        if not alive(pid):
            break
        await asyncio.sleep(0.1)
    assert not alive(pid)
