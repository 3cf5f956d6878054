"""MCP tools against real MCP servers (the SDK's own server) over streamable HTTP and stdio: listing,
calling, tool errors, a server that is down or dies, timeouts, cancellation, the pool, namespacing."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import pytest

from agentcreator.core.config import McpSettings
from agentcreator.tools.base import ToolContext
from agentcreator.tools.mcp import (
    McpClientPool,
    McpServerConfig,
    McpToolError,
    McpToolFactory,
    function_names,
)
from tests.tools.conftest import SERVER_SCRIPT, http_config, stdio_config
from tests.tools.mcp_test_server import LONG_TOOL_NAME, PNG_1X1, McpHttpServer

CONTEXT = ToolContext(user_id="u1", conversation_id="c1", assistant_id="a1")
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class Directory:
    """A fixed set of servers: the directory the factory reads (services.mcp_servers implements it over
    the database; tests/api/test_mcp_servers.py covers that one)."""

    def __init__(self, *servers: McpServerConfig) -> None:
        self.servers = {s.id: s for s in servers} | {s.name: s for s in servers}

    async def resolve(self, ref: str) -> McpServerConfig | None:
        return self.servers.get(ref)


def _transports(mcp_http: McpHttpServer) -> list[McpServerConfig]:
    return [http_config(mcp_http), stdio_config()]


_OURS = (f"{os.sep}mcp{os.sep}", f"{os.sep}anyio{os.sep}", f"{os.sep}httpx2{os.sep}", f"{os.sep}httpcore",
         f"agentcreator{os.sep}tools{os.sep}")


def _mcp_tasks() -> set[asyncio.Task[object]]:
    """Running tasks of the MCP client (the SDK, anyio, httpx2, tools/mcp): other fixtures' background
    tasks (the app's chat service, a live server) are not this test's business."""
    found = set()
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if not task.done() and (task.get_name().startswith("mcp") or
                                (code is not None and any(p in code.co_filename for p in _OURS))):
            found.add(task)
    return found


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else "nothing"


async def _wait_for(path: Path, content: str, within: float = 10.0) -> None:
    """Until the marker file the test server's ``slow`` tool writes says ``content``."""
    deadline = asyncio.get_running_loop().time() + within
    while (found := _read(path)) != content:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{path.name}: expected {content!r}, found {found!r}")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("transport", ["streamable_http", "stdio"])
async def test_lists_and_calls_tools_over_both_transports(
        transport: str, mcp_http: McpHttpServer, pool: McpClientPool) -> None:
    config = http_config(mcp_http) if transport == "streamable_http" else stdio_config()
    factory = McpToolFactory(Directory(config), pool, pool.settings)
    tools = await factory.tools_for({"type": "mcp", "server": config.name, "tools": []}, CONTEXT)
    by_mcp_name = {t.mcp_name: t for t in tools}  # type: ignore[attr-defined]
    assert {"add", "echo", "fail", "picture", "slow", "fs.read", "fs_read", LONG_TOOL_NAME} <= set(by_mcp_name)
    assert "huge_schema" in {t.name for t in await pool.list_tools(config)}
    assert "huge_schema" not in by_mcp_name  # its 60 KB schema would crowd the model's context
    add = by_mcp_name["add"]
    assert add.name == f"mcp_{config.name}__add"
    assert add.parameters["type"] == "object" and set(add.parameters["required"]) == {"a", "b"}
    assert add.description == f"[{config.name}] Add two integers."
    assert add.price_key == f"mcp:{config.name}"

    result = await add.run({"a": 2, "b": 40}, CONTEXT)
    assert result.output == "42" and not result.is_error
    assert result.metadata["structured_content"] == {"result": 42}
    echoed = await by_mcp_name["echo"].run({"text": "héllo\n<b>"}, CONTEXT)
    assert echoed.output == "héllo\n<b>"
    picture = await by_mcp_name["picture"].run({}, CONTEXT)
    assert "a red dot" in picture.output and f"[image: image/png, {len(PNG_1X1)} bytes]" in picture.output
    assert picture.parts == [{"type": "image", "mime_type": "image/png", "data": picture.parts[0]["data"]}]
    assert pool.open_sessions == 1  # one session served every call


@pytest.mark.parametrize("transport", ["streamable_http", "stdio"])
async def test_a_tool_error_and_bad_arguments_come_back_as_tool_errors(
        transport: str, mcp_http: McpHttpServer, pool: McpClientPool) -> None:
    config = http_config(mcp_http) if transport == "streamable_http" else stdio_config()
    tools = {t.mcp_name: t for t in await McpToolFactory(Directory(config), pool, pool.settings).tools_for(  # type: ignore[attr-defined]
        {"type": "mcp", "server": config.id, "tools": ["fail", "add"]}, CONTEXT)}
    assert set(tools) == {"fail", "add"}
    with pytest.raises(McpToolError) as failed:
        await tools["fail"].run({"message": "the disk is full"}, CONTEXT)
    assert failed.value.code == "mcp_tool_error" and "the disk is full" in failed.value.message
    # Arguments go through as JSON: the server validates them and says what is wrong.
    for bad in ({"a": "two", "b": 1}, {"a": 1}, {"a": None, "b": [1]}, {"a": "1e999", "b": 1}):
        with pytest.raises(McpToolError) as refused:
            await tools["add"].run(bad, CONTEXT)
        assert refused.value.code in ("mcp_tool_error", "mcp_refused") and "validation error" in refused.value.message
    # What the server accepts is its business (this one ignores unknown arguments).
    assert (await tools["add"].run({"a": 1, "b": 2, "__proto__": {"x": 1}}, CONTEXT)).output == "3"
    with pytest.raises(McpToolError, match="JSON object"):
        await tools["add"].run(["not", "an", "object"], CONTEXT)  # type: ignore[arg-type]
    # The session survived the errors.
    assert (await tools["add"].run({"a": 1, "b": 1}, CONTEXT)).output == "2"


async def test_secret_headers_are_sent_and_a_server_refusing_them_is_a_clear_error(
        mcp_http: McpHttpServer, pool: McpClientPool) -> None:
    tools = await pool.list_tools(http_config(mcp_http))
    assert tools and mcp_http.app is not None
    assert mcp_http.app.seen[-1]["authorization"] == "Bearer mcp-test-secret"
    with pytest.raises(McpToolError) as refused:
        await pool.list_tools(http_config(mcp_http, id="no-key", headers={}))
    assert refused.value.code == "mcp_unreachable"
    assert refused.value.message == "MCP server 'web' is unreachable: HTTP 401 Unauthorized"


async def test_tool_lists_are_cached_briefly_per_server(mcp_http: McpHttpServer) -> None:
    assert mcp_http.app is not None
    pool = McpClientPool(McpSettings(tools_cache_seconds=0.5))
    try:
        config = http_config(mcp_http, id="cached")
        first = await pool.list_tools(config)
        requests = len(mcp_http.app.seen)
        assert await pool.list_tools(config) == first
        assert len(mcp_http.app.seen) == requests  # served from the cache
        await asyncio.sleep(0.6)
        assert await pool.list_tools(config) == first
        assert len(mcp_http.app.seen) > requests  # asked again once stale
    finally:
        await pool.aclose()


@pytest.mark.parametrize(("config", "reason"), [
    (McpServerConfig(id="down", name="down", transport="streamable_http", url="http://127.0.0.1:9/mcp",
                     connect_timeout_seconds=5), "Connection refused"),
    (McpServerConfig(id="nope", name="nope", transport="stdio", command="/nonexistent/mcp-server",
                     args=("--token", "s3cr3t"), connect_timeout_seconds=5), "No such file or directory"),
], ids=["http-refused", "stdio-no-such-command"])
async def test_a_server_that_is_down_gives_a_clear_tool_error(config: McpServerConfig, reason: str,
                                                              pool: McpClientPool) -> None:
    factory = McpToolFactory(Directory(config), pool, pool.settings)
    started = asyncio.get_running_loop().time()
    with pytest.raises(McpToolError) as down:
        await factory.tools_for({"type": "mcp", "server": config.name}, CONTEXT)
    assert down.value.code == "mcp_unreachable"
    # What the model and the user read names the server and the reason, not its address or command.
    assert down.value.message == f"MCP server '{config.name}' is unreachable: {reason}"
    assert asyncio.get_running_loop().time() - started < 5
    assert pool.open_sessions == 0


async def test_unknown_disabled_and_stdio_off_servers_are_refused(mcp_http: McpHttpServer) -> None:
    disabled = http_config(mcp_http, id="off", name="off", enabled=False)
    pool = McpClientPool(McpSettings(stdio_enabled=False))
    try:
        factory = McpToolFactory(Directory(disabled, stdio_config()), pool, pool.settings)
        for ref, code in (("ghost", "mcp_unknown_server"), ("off", "mcp_server_disabled"),
                          ("local", "mcp_stdio_disabled"), ("", "mcp_unknown_server")):
            with pytest.raises(McpToolError) as refused:
                await factory.tools_for({"type": "mcp", "server": ref}, CONTEXT)
            assert refused.value.code == code
        assert pool.open_sessions == 0
    finally:
        await pool.aclose()


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
    await _wait_for(marker, "cancelled")  # the SDK told the server, which cancelled the tool
    assert (await pool.call_tool(config, "echo", {"text": "next"})).content[0].text == "next"  # type: ignore[union-attr]


@pytest.mark.parametrize("transport", ["streamable_http", "stdio"])
async def test_cancelling_a_call_midway_leaves_nothing_running(
        transport: str, mcp_http: McpHttpServer, pool: McpClientPool, tmp_path: Path) -> None:
    config = http_config(mcp_http, id="cancel") if transport == "streamable_http" else stdio_config()
    factory = McpToolFactory(Directory(config), pool, pool.settings)
    slow = next(t for t in await factory.tools_for({"type": "mcp", "server": config.name, "tools": ["slow"]},
                                                   CONTEXT))
    before, processes = _mcp_tasks(), _server_processes()
    marker = tmp_path / "marker"
    run = asyncio.create_task(slow.run({"seconds": 30, "marker": str(marker)}, CONTEXT))
    await _wait_for(marker, "started")
    assert _mcp_tasks() - before  # the call is seen running (so the check below can fail)
    run.cancel()  # the user's stop
    with pytest.raises(asyncio.CancelledError):
        await run
    await _wait_for(marker, "cancelled")  # the server's tool was cancelled, not left sleeping
    await asyncio.sleep(0.1)
    leftover = _mcp_tasks() - before
    assert leftover == set(), [t.get_name() for t in leftover]
    assert (await pool.call_tool(config, "echo", {"text": "after"})).content[0].text == "after"  # type: ignore[union-attr]
    await pool.aclose()  # and closing the pool ends the sessions (and the stdio server process)
    assert _server_processes() - processes == set()
    assert _mcp_tasks() - before == set()


async def test_cancelled_while_connecting_leaves_no_session_or_process(pool: McpClientPool) -> None:
    config = stdio_config(id="connecting")
    before, processes = _mcp_tasks(), _server_processes()
    call = asyncio.create_task(pool.call_tool(config, "echo", {"text": "x"}))
    await asyncio.sleep(0.05)  # the subprocess is starting
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    for _ in range(200):
        if not _mcp_tasks() - before:
            break
        await asyncio.sleep(0.05)
    assert {t.get_name() for t in _mcp_tasks() - before} == set()
    assert pool.open_sessions == 0
    for _ in range(100):  # the subprocess, if it had started, is ended too
        if not _server_processes() - processes:
            break
        await asyncio.sleep(0.1)
    assert _server_processes() - processes == set()


async def test_idle_sessions_close_and_their_processes_exit() -> None:
    pool = McpClientPool(McpSettings(idle_close_seconds=0.4))
    try:
        config = stdio_config(id="idle")
        pid = int((await pool.call_tool(config, "pid", {})).content[0].text)  # type: ignore[union-attr]
        assert pool.open_sessions == 1
        for _ in range(100):
            if pool.open_sessions == 0 and not _alive(pid):
                break
            await asyncio.sleep(0.1)
        assert pool.open_sessions == 0 and not _alive(pid)
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
    assert not any(_alive(pid) for pid in pids)
    with pytest.raises(McpToolError):
        await pool.list_tools(stdio_config())


def _server_processes() -> set[int]:
    """This process's children running the stdio test server (zombies excluded)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == os.getpid() and SERVER_SCRIPT.name.encode() in cmdline:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


async def test_tool_names_are_namespaced_valid_unique_and_stable(mcp_http: McpHttpServer,
                                                                 pool: McpClientPool) -> None:
    factory = McpToolFactory(Directory(http_config(mcp_http)), pool, pool.settings)
    tools = await factory.tools_for({"type": "mcp", "server": "web"}, CONTEXT)
    names = {t.mcp_name: t.name for t in tools}  # type: ignore[attr-defined]
    assert all(FUNCTION_NAME.match(name) for name in names.values())
    assert len(set(names.values())) == len(names)
    assert names["fs_read"] == "mcp_web__fs_read"  # a valid name keeps its plain form
    assert names["fs.read"].startswith("mcp_web__fs_read_") and names["fs.read"] != names["fs_read"]
    assert len(names[LONG_TOOL_NAME]) == 64 and names[LONG_TOOL_NAME].startswith("mcp_web__a_tool_whose")
    # Calls reach the right tool behind each name.
    by_name = {t.name: t for t in tools}
    assert (await by_name[names["fs.read"]].run({"path": "x"}, CONTEXT)).output == "dotted:x"
    assert (await by_name[names["fs_read"]].run({"path": "x"}, CONTEXT)).output == "underscored:x"
    # The names depend on the set of tools, not the order the server lists them in.
    listed = list(names)
    assert function_names("web", listed) == function_names("web", list(reversed(listed)))


def test_function_names_handle_hostile_tool_names() -> None:
    hostile = ["a b", "a_b", "a/b", "ünïcode", "", "x" * 300, "../../etc", "a\nb", "-", "mcp_x__y"]
    names = function_names("srv", hostile)
    assert all(FUNCTION_NAME.match(name) for name in names.values()), names
    assert len(set(names.values())) == len(hostile)
    assert names["a_b"] == "mcp_srv__a_b"


def test_the_mcp_tools_import_no_upper_layer() -> None:
    import ast

    import agentcreator.tools.mcp as package

    forbidden = ("fastapi", "starlette", "sqlalchemy", "agentcreator.api", "agentcreator.chat",
                 "agentcreator.services", "agentcreator.repositories", "agentcreator.db")
    offenders = set()
    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            offenders |= {f"{path.name}: {n}" for n in names if n.startswith(forbidden)}
    assert offenders == set()


@pytest.mark.parametrize("transport", ["streamable_http", "stdio"])
async def test_concurrent_calls_share_one_session(transport: str, mcp_http: McpHttpServer, pool: McpClientPool,
                                                  tmp_path: Path) -> None:
    config = http_config(mcp_http, id="parallel") if transport == "streamable_http" else stdio_config()
    markers = [tmp_path / f"m{i}" for i in range(3)]
    calls = [asyncio.create_task(pool.call_tool(config, "slow", {"seconds": 1.5, "marker": str(m)}))
             for m in markers]
    for marker in markers:  # all three run on the server at once
        await _wait_for(marker, "started")
    results = await asyncio.gather(*calls)
    assert [r.content[0].text for r in results] == ["slept 1.5"] * 3  # type: ignore[union-attr]
    assert all(_read(m) == "finished" for m in markers)
    assert pool.open_sessions == 1


async def test_hostile_content_is_dropped_with_a_note(mcp_http: McpHttpServer, tmp_path: Path) -> None:
    pool = McpClientPool(McpSettings(max_image_bytes=1000))
    try:
        config = http_config(mcp_http, id="mixed")
        factory = McpToolFactory(Directory(config), pool, pool.settings)
        [mixed] = await factory.tools_for({"type": "mcp", "server": "web", "tools": ["mixed"]}, CONTEXT)
        result = await mixed.run({}, CONTEXT)
    finally:
        await pool.aclose()
    lines = result.output.splitlines()
    assert lines == [
        "mixed bag",
        "[image of type 'image/svg+xml' not shown]",
        "[image not shown: invalid base64 data]",
        f"[image not shown: {len(PNG_1X1) * 100} bytes is over the 1000 byte limit]",
        "[resource report: file:///srv/report.pdf]",
        "embedded memo",
    ]
    assert result.parts == [{"type": "resource_link", "uri": "file:///srv/report.pdf", "name": "report",
                             "mime_type": "application/pdf"}]  # no image part made it through


def _children_running(program: str) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            argv0 = (stat.parent / "cmdline").read_bytes().split(b"\x00")[0]
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == os.getpid() and argv0 == program.encode():
            found.add(int(stat.parent.name))
    return found


async def test_a_server_that_never_answers_the_handshake_times_out_and_is_cleaned_up(pool: McpClientPool) -> None:
    import socket

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
        before = _mcp_tasks()
        for config in configs:
            with pytest.raises(McpToolError) as mute:
                await pool.list_tools(config)
            assert mute.value.code == "mcp_unreachable"
            assert mute.value.message == "MCP server 'mute' did not answer within 0.5 s"
        assert {t.get_name() for t in _mcp_tasks() - before} == set()
        assert _children_running("/bin/sleep") == set()
        assert pool.open_sessions == 0
    finally:
        silent.close()


async def test_forgetting_a_server_lets_calls_in_flight_finish_then_closes_its_session(
        pool: McpClientPool, tmp_path: Path) -> None:
    config = stdio_config(id="edited")
    pid = int((await pool.call_tool(config, "pid", {})).content[0].text)  # type: ignore[union-attr]
    marker = tmp_path / "marker"
    call = asyncio.create_task(pool.call_tool(config, "slow", {"seconds": 1.0, "marker": str(marker)}))
    await _wait_for(marker, "started")
    pool.forget(config.id)  # what an admin's edit or delete does
    assert pool.open_sessions == 0  # new calls get a new session...
    assert (await call).content[0].text == "slept 1.0"  # type: ignore[union-attr]  # ...this one finished
    for _ in range(100):
        if not _alive(pid):
            break
        await asyncio.sleep(0.1)
    assert not _alive(pid)
