"""MCP tools against real MCP servers (the SDK's own server) over streamable HTTP and stdio: listing,
calling, tool errors, hostile content, servers that are down, the tool-list cache, namespacing, the
registry. Sessions, timeouts and cancellation: test_mcp_lifecycle.py."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from agentcreator.core.config import McpSettings
from agentcreator.tools.mcp import (
    McpClientPool,
    McpServerConfig,
    McpToolError,
    McpToolFactory,
    function_names,
)
from tests.tools.conftest import http_config, stdio_config
from tests.tools.mcp_helpers import CONTEXT, Directory
from tests.tools.mcp_test_server import LONG_TOOL_NAME, PNG_1X1, McpHttpServer

FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


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
    pool = McpClientPool(McpSettings(tools_cache_seconds=1.0))
    try:
        config = http_config(mcp_http, id="cached")
        first = await pool.list_tools(config)
        requests = len(mcp_http.app.seen)
        assert await pool.list_tools(config) == first
        assert len(mcp_http.app.seen) == requests  # served from the cache
        await asyncio.sleep(1.1)
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


async def test_the_tool_registry_builds_mcp_tools_and_skips_a_server_that_is_down(
        mcp_http: McpHttpServer, pool: McpClientPool) -> None:
    from agentcreator.tools.registry import ToolRegistry

    down = McpServerConfig(id="down", name="down", transport="streamable_http", url="http://127.0.0.1:9/mcp")
    registry = ToolRegistry([McpToolFactory(Directory(http_config(mcp_http), down), pool, pool.settings)])
    toolset = await registry.build([{"type": "mcp", "server": "web", "tools": ["add", "echo"]},
                                    {"type": "mcp", "server": "down"}], CONTEXT)
    assert sorted(toolset.tools) == ["mcp_web__add", "mcp_web__echo"]
    assert toolset.skipped == [{"type": "mcp", "reason": "MCP server 'down' is unreachable: Connection refused"}]
    definitions = {d.name: d for d in toolset.definitions()}
    assert definitions["mcp_web__echo"].parameters["properties"]["text"]["type"] == "string"
    assert (await toolset.tools["mcp_web__echo"].run({"text": "via the registry"}, CONTEXT)).output == "via the registry"
