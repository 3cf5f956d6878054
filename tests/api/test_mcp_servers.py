"""MCP servers through the API: admins register them (secrets encrypted, never returned), users list
enabled servers and their tools, assistants choose them (422 for an unknown or disabled server), and
the ``mcp`` tool type reads the registry. Real MCP servers: tests/tools/mcp_test_server.py."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from agentcreator.core.config import McpSettings
from agentcreator.core.errors import ValidationFailed
from agentcreator.core.security import SecretBox
from agentcreator.db.models import Assistant, McpServer
from agentcreator.services.mcp_servers import McpServerService
from agentcreator.state import AppState
from agentcreator.tools.base import ToolContext
from agentcreator.tools.mcp import McpToolError
from tests.conftest import UserSession
from tests.tools.conftest import SECRET_HEADERS, SERVER_SCRIPT
from tests.tools.mcp_test_server import McpHttpServer

SECRET = SECRET_HEADERS["Authorization"]
ENV_SECRET = "env-secret-value-42"


@pytest.fixture(autouse=True)
async def _close_mcp_sessions(app_state: AppState) -> AsyncIterator[None]:
    """The app's pool outlives a test: close its sessions (and stdio processes) after each one."""
    yield
    await app_state.mcp.pool.reset()


@pytest.fixture(scope="module")
def mcp_http() -> Iterator[McpHttpServer]:
    """The test server over streamable HTTP; it refuses requests without ``SECRET_HEADERS``."""
    with McpHttpServer(required_headers=SECRET_HEADERS) as server:
        yield server


def http_body(server: McpHttpServer, **overrides: Any) -> dict[str, Any]:
    return {"name": "web", "transport": "streamable_http", "url": server.url, "headers": dict(SECRET_HEADERS),
            "description": "The test server over HTTP"} | overrides


def stdio_body(**overrides: Any) -> dict[str, Any]:
    return {"name": "local", "transport": "stdio", "command": sys.executable, "args": [str(SERVER_SCRIPT)],
            "env": {"MCP_TEST_TOKEN": ENV_SECRET}, "call_timeout_seconds": 20} | overrides


async def create(client: httpx.AsyncClient, admin: UserSession, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/admin/mcp-servers", headers=admin.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_admin_registers_an_http_server_whose_headers_are_encrypted_and_never_returned(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, mcp_http: McpHttpServer,
        app_state: AppState) -> None:
    created = await create(client, alice, http_body(mcp_http))
    assert created["header_names"] == ["Authorization"] and SECRET not in str(created)
    assert created["call_timeout_seconds"] == app_state.settings.mcp.default_call_timeout_seconds
    async with app_state.sessions() as session:
        row = (await session.execute(select(McpServer).where(McpServer.name == "web"))).scalar_one()
    assert row.headers_encrypted and SECRET not in row.headers_encrypted and "Bearer" not in row.headers_encrypted
    for path in ("/api/admin/mcp-servers", f"/api/admin/mcp-servers/{created['id']}"):
        shown = await client.get(path, headers=alice.headers)
        assert shown.status_code == 200 and SECRET not in shown.text and "mcp-test-secret" not in shown.text
    test = await client.post(f"/api/admin/mcp-servers/{created['id']}/test", headers=alice.headers)
    assert test.status_code == 200 and test.json()["ok"] is True, test.text
    tools = {t["name"]: t for t in test.json()["tools"]}
    assert tools["add"]["function_name"] == "mcp_web__add" and tools["add"]["input_schema"]["type"] == "object"
    assert mcp_http.app is not None and mcp_http.app.seen[-1]["authorization"] == SECRET  # decrypted and sent
    # Every user sees the enabled servers and their tools: no URL, no secret.
    catalog = await client.get("/api/mcp-servers", headers=bob.headers)
    assert catalog.status_code == 200
    entry = catalog.json()["data"][0]
    assert entry["name"] == "web" and entry["error"] is None and "add" in {t["name"] for t in entry["tools"]}
    assert mcp_http.url not in catalog.text and SECRET not in catalog.text and "Authorization" not in catalog.text
    assert (await client.get("/api/mcp-servers")).status_code == 401


async def test_a_stdio_server_command_and_env_stay_with_admins(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState) -> None:
    created = await create(client, alice, stdio_body())
    assert created["command"] == sys.executable and created["env_names"] == ["MCP_TEST_TOKEN"]
    assert ENV_SECRET not in str(created)
    async with app_state.sessions() as session:
        row = await session.get(McpServer, created["id"])
    assert row is not None and row.env_encrypted and ENV_SECRET not in row.env_encrypted
    listed = await client.get("/api/admin/mcp-servers", headers=alice.headers)
    assert ENV_SECRET not in listed.text and listed.json()["count"] == 1
    catalog = await client.get("/api/mcp-servers", headers=bob.headers)
    assert catalog.json()["data"][0]["name"] == "local" and catalog.json()["data"][0]["tools"]
    for hidden in (sys.executable, str(SERVER_SCRIPT), "MCP_TEST_TOKEN", ENV_SECRET):
        assert hidden not in catalog.text


async def test_non_admins_are_refused_and_change_nothing(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, mcp_http: McpHttpServer) -> None:
    created = await create(client, alice, http_body(mcp_http))
    server = f"/api/admin/mcp-servers/{created['id']}"
    attempts = [("get", "/api/admin/mcp-servers", None), ("post", "/api/admin/mcp-servers", stdio_body()),
                ("get", server, None), ("patch", server, {"enabled": False, "url": "http://evil.example/mcp"}),
                ("delete", server, None), ("post", f"{server}/test", None)]
    for method, path, body in attempts:
        response = await client.request(method, path, headers=bob.headers, json=body)
        assert response.status_code == 403 and response.json()["error"]["code"] == "admin_required", (method, path)
    after = (await client.get(server, headers=alice.headers)).json()
    assert after == created
    assert (await client.get("/api/admin/mcp-servers", headers=alice.headers)).json()["count"] == 1


async def test_updates_replace_secrets_and_are_checked_against_the_transport(
        client: httpx.AsyncClient, alice: UserSession, mcp_http: McpHttpServer) -> None:
    created = await create(client, alice, http_body(mcp_http, call_timeout_seconds=5))
    server = f"/api/admin/mcp-servers/{created['id']}"
    cleared = await client.patch(server, headers=alice.headers, json={"headers": {}})
    assert cleared.status_code == 200 and cleared.json()["header_names"] == []
    refused = await client.post(f"{server}/test", headers=alice.headers)
    assert refused.json() == {"ok": False, "tools": [], "error": {
        "code": "mcp_unreachable", "message": "MCP server 'web' is unreachable: HTTP 401 Unauthorized",
        "detail": "MCPError: Server returned an error response"}}
    restored = await client.patch(server, headers=alice.headers, json={"headers": SECRET_HEADERS, "enabled": False})
    assert restored.json()["header_names"] == ["Authorization"] and restored.json()["enabled"] is False
    assert (await client.post(f"{server}/test", headers=alice.headers)).json()["ok"] is True  # even disabled
    for body, code in (({"command": "/bin/sh"}, "mcp_transport_mismatch"), ({"url": None}, "validation_error"),
                       ({"call_timeout_seconds": 10_000}, "validation_error"), ({"name": "other"}, "validation_error"),
                       ({"call_timeout_seconds": 601}, "mcp_timeout_too_long")):
        bad = await client.patch(server, headers=alice.headers, json=body)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == code, (body, bad.text)
    assert (await client.get(server, headers=alice.headers)).json()["call_timeout_seconds"] == 5
    missing = await client.patch("/api/admin/mcp-servers/nope", headers=alice.headers, json={"enabled": True})
    assert missing.status_code == 404
    assert (await client.delete(server, headers=alice.headers)).status_code == 204
    assert (await client.get(server, headers=alice.headers)).status_code == 404


async def test_hostile_server_settings_are_refused(client: httpx.AsyncClient, alice: UserSession,
                                                  mcp_http: McpHttpServer) -> None:
    bad_bodies = [
        http_body(mcp_http, headers={"X-Api-Key": "abc\r\nX-Injected: 1"}),
        http_body(mcp_http, headers={"X-Api-Key": "abc\nHost: evil"}),
        http_body(mcp_http, headers={"Bad Name": "x"}),
        http_body(mcp_http, headers={"Host": "evil.example"}),
        http_body(mcp_http, headers={"Mcp-Session-Id": "fixed"}),
        http_body(mcp_http, headers={"x-key": "a", "X-Key": "b"}),
        http_body(mcp_http, url="ftp://127.0.0.1/mcp"),
        http_body(mcp_http, url="file:///etc/passwd"),
        http_body(mcp_http, url="http://user:pw@127.0.0.1/mcp"),
        http_body(mcp_http, url="http://127.0.0.1/mcp\r\nX: y"),
        http_body(mcp_http, url=None),
        http_body(mcp_http, command="/bin/sh"),
        http_body(mcp_http, name="Web Server"),
        http_body(mcp_http, name="x" * 41),
        http_body(mcp_http, transport="sse"),
        http_body(mcp_http, owner_id="someone"),
        stdio_body(command=None),
        stdio_body(command="/bin/sh\x00-c"),
        stdio_body(args=["ok", "nul\x00byte"]),
        stdio_body(env={"LD_PRELOAD=x": "y"}),
        stdio_body(env={"OK": "nul\x00"}),
        stdio_body(url=mcp_http.url),
        stdio_body(call_timeout_seconds=0),
    ]
    for body in bad_bodies:
        response = await client.post("/api/admin/mcp-servers", headers=alice.headers, json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await client.get("/api/admin/mcp-servers", headers=alice.headers)).json()["count"] == 0
    await create(client, alice, http_body(mcp_http))
    taken = await client.post("/api/admin/mcp-servers", headers=alice.headers, json=stdio_body(name="web"))
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "mcp_server_exists"


async def test_stdio_servers_are_refused_when_the_platform_turns_them_off(app_state: AppState,
                                                                          client: httpx.AsyncClient) -> None:
    service = McpServerService(app_state.sessions, app_state.secrets, McpSettings(stdio_enabled=False))
    try:
        async with app_state.sessions() as session:
            try:
                await service.create(session, stdio_body() | {"headers": {}, "url": None})
            except ValidationFailed as exc:
                assert exc.code == "mcp_stdio_disabled"
            else:
                raise AssertionError("a stdio server was accepted with stdio turned off")
            assert (await session.execute(select(McpServer))).first() is None
    finally:
        await service.aclose()


async def test_assistants_choose_enabled_servers_and_get_a_clear_422_otherwise(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, mcp_http: McpHttpServer,
        app_state: AppState) -> None:
    web = await create(client, alice, http_body(mcp_http))
    off = await create(client, alice, http_body(mcp_http, name="off", enabled=False))

    async def make(user: UserSession, tools: list[dict[str, Any]]) -> httpx.Response:
        return await client.post("/api/assistants", headers=user.headers, json={"name": "A", "tools": tools})

    by_name = await make(bob, [{"type": "mcp", "server": "web", "tools": ["add", "echo", "add"]}])
    assert by_name.status_code == 201, by_name.text
    assert by_name.json()["tools"] == [{"type": "mcp", "server": "web", "tools": ["add", "echo"]}]
    by_id = await make(alice, [{"type": "mcp", "server": web["id"]}])
    assert by_id.status_code == 201 and by_id.json()["tools"] == [{"type": "mcp", "server": web["id"], "tools": []}]
    for tools, expected in (
            ([{"type": "mcp", "server": "ghost"}], "MCP server not found"),
            ([{"type": "mcp", "server": off["id"]}], "MCP server 'off' is disabled"),
            ([{"type": "mcp", "server": "web"}, {"type": "mcp", "server": web["id"]}], "already in the tools"),
    ):
        refused = await make(bob, tools)
        assert refused.status_code == 422 and expected in refused.json()["error"]["message"], refused.text
        assert refused.json()["error"]["code"] == "mcp_server_unavailable"
    for tools in ([{"type": "mcp"}], [{"type": "mcp", "server": ""}], [{"type": "mcp", "server": "web", "x": 1}],
                  [{"type": "mcp", "server": "web", "tools": ["bad\nname"]}],
                  [{"type": "mcp", "server": "web", "tools": "add"}]):
        assert (await make(bob, tools)).status_code == 422, tools
    # An update is checked the same way, and a refused update changes nothing.
    assistant = by_name.json()
    patched = await client.patch(f"/api/assistants/{assistant['id']}", headers=bob.headers,
                                 json={"tools": [{"type": "mcp", "server": "off"}]})
    assert patched.status_code == 422
    async with app_state.sessions() as session:
        row = await session.get(Assistant, assistant["id"])
    assert row is not None and row.tools == [{"type": "mcp", "server": "web", "tools": ["add", "echo"]}]
    # Another user's assistant stays theirs.
    assert (await client.patch(f"/api/assistants/{assistant['id']}", headers=alice.headers,
                               json={"tools": []})).status_code == 404


async def test_the_tool_factory_reads_the_registry(client: httpx.AsyncClient, alice: UserSession,
                                                   mcp_http: McpHttpServer, app_state: AppState) -> None:
    web = await create(client, alice, http_body(mcp_http))
    factory = app_state.mcp.tool_factory()
    context = ToolContext(user_id=alice.id, conversation_id=None, assistant_id=None)
    tools = await factory.tools_for({"type": "mcp", "server": "web", "tools": ["add"]}, context)
    assert [t.name for t in tools] == ["mcp_web__add"]
    assert (await tools[0].run({"a": 20, "b": 22}, context)).output == "42"
    await client.patch(f"/api/admin/mcp-servers/{web['id']}", headers=alice.headers, json={"enabled": False})
    try:
        await factory.tools_for({"type": "mcp", "server": web["id"]}, context)
    except McpToolError as exc:
        assert exc.code == "mcp_server_disabled"
    else:
        raise AssertionError("a disabled server gave tools")
    await client.delete(f"/api/admin/mcp-servers/{web['id']}", headers=alice.headers)
    try:
        await factory.tools_for({"type": "mcp", "server": "web"}, context)
    except McpToolError as exc:
        assert exc.code == "mcp_unknown_server"
    else:
        raise AssertionError("a deleted server gave tools")


async def test_the_catalog_reports_a_server_that_is_down(client: httpx.AsyncClient, alice: UserSession,
                                                         bob: UserSession, mcp_http: McpHttpServer) -> None:
    await create(client, alice, http_body(mcp_http, name="down", url="http://127.0.0.1:9/mcp",
                                          connect_timeout_seconds=5))
    await create(client, alice, http_body(mcp_http))
    await create(client, alice, http_body(mcp_http, name="hidden", enabled=False))
    catalog = (await client.get("/api/mcp-servers", headers=bob.headers)).json()
    entries = {e["name"]: e for e in catalog["data"]}
    assert set(entries) == {"down", "web"} and catalog["count"] == 2
    assert entries["down"]["tools"] == [] and entries["down"]["error"] == {
        "code": "mcp_unreachable", "message": "MCP server 'down' is unreachable: Connection refused"}
    # The admin's connection test says more.
    servers = (await client.get("/api/admin/mcp-servers", headers=alice.headers)).json()["data"]
    down = next(s for s in servers if s["name"] == "down")
    test = (await client.post(f"/api/admin/mcp-servers/{down['id']}/test", headers=alice.headers)).json()
    assert test["ok"] is False and test["error"]["code"] == "mcp_unreachable"
    assert test["error"]["detail"].startswith("ConnectError: ")
    assert entries["web"]["error"] is None and entries["web"]["tools"]


async def test_secrets_that_cannot_be_decrypted_give_a_clear_error_not_a_crash(
        client: httpx.AsyncClient, alice: UserSession, mcp_http: McpHttpServer, app_state: AppState) -> None:
    created = await create(client, alice, http_body(mcp_http))
    rekeyed = McpServerService(app_state.sessions, SecretBox("a-different-secret-key-than-the-one-used"),
                               app_state.settings.mcp)  # as after a change of SECRET_KEY
    try:
        [entry] = await rekeyed.catalog()
        assert entry.name == "web" and entry.tools == []
        assert entry.error is not None and entry.error.code == "mcp_secrets_unreadable"
        for attempt in (rekeyed.test_connection(created["id"]),
                        rekeyed.tool_factory().tools_for({"type": "mcp", "server": "web"},
                                                         ToolContext(user_id=alice.id, conversation_id=None,
                                                                     assistant_id=None))):
            try:
                await attempt
            except McpToolError as exc:
                assert exc.code == "mcp_secrets_unreadable" and "set them again" in exc.message
            else:
                raise AssertionError("unreadable secrets were used")
    finally:
        await rekeyed.aclose()
