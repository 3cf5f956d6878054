"""HTTP function tools against a real local server (allow-listed for the guard): how arguments become
the request, headers, errors for the model, and the guard's refusals. Client-side functions."""

from __future__ import annotations

from typing import Any

import pytest

from agentcreator.core.config import OutboundSettings
from agentcreator.core.outbound import OutboundGuard
from agentcreator.core.security import SecretBox
from agentcreator.tools import ToolContext, ToolError, ToolRegistry
from agentcreator.tools.http_functions import ClientFunctionTool, FunctionToolFactory, HttpFunctionTool
from tests.local_http import LocalHttp

CONTEXT = ToolContext(user_id="u1", conversation_id="c1", assistant_id="a1")
BOX = SecretBox("test-secret-key-that-is-long-enough-0123456789")


def function(url: str, *, method: str = "GET", headers: dict[str, str] | None = None, query: list[str] | None = None,
             properties: dict[str, Any] | None = None, required: list[str] | None = None) -> dict[str, Any]:
    parameters: dict[str, Any] = {"type": "object", "properties": properties or {}}
    if required:
        parameters["required"] = required
    return {"type": "function", "name": "lookup", "description": "Look a thing up", "parameters": parameters,
            "endpoint": {"method": method, "url": url, "query": query or [],
                         "headers": {k: BOX.encrypt(v) for k, v in (headers or {}).items()}}}


async def build(config: dict[str, Any], *allow: str, **settings: Any) -> Any:
    guard = OutboundGuard(OutboundSettings(allow_hosts=list(allow), **settings))
    registry = ToolRegistry([FunctionToolFactory(guard, BOX)])
    toolset = await registry.build([config], CONTEXT)
    assert not toolset.skipped, toolset.skipped
    return toolset.get(config["name"])


PROPS = {"city": {"type": "string"}, "days": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
         "units": {"type": "string"}, "verbose": {"type": "boolean"}}


async def test_get_fills_the_path_and_sends_the_rest_as_query(local_http: LocalHttp) -> None:
    tool = await build(function(f"{local_http.base}/echo/{{city}}/forecast?lang=en", properties=PROPS,
                                headers={"X-Api-Key": "k-123"}), local_http.origin)
    assert isinstance(tool, HttpFunctionTool) and not tool.client_side
    result = await tool.run({"city": "São Paulo/../x?y#z", "days": 3, "tags": ["a", "b"], "verbose": True}, CONTEXT)
    echoed = _echo(local_http)
    assert echoed["method"] == "GET"
    assert echoed["raw_path"].startswith("/echo/S%C3%A3o%20Paulo%2F..%2Fx%3Fy%23z/forecast?")
    assert echoed["query"] == "lang=en&days=3&tags=a&tags=b&verbose=true"
    assert echoed["headers"]["X-Api-Key"] == "k-123"
    assert '"method": "GET"' in result.output and not result.is_error


async def test_post_sends_a_json_body_and_named_query_arguments(local_http: LocalHttp) -> None:
    tool = await build(function(f"{local_http.base}/echo/items", method="POST", query=["units"], properties=PROPS,
                                required=["city"]), local_http.origin)
    await tool.run({"city": "Oslo", "days": 2, "units": "metric", "verbose": None}, CONTEXT)
    echoed = _echo(local_http)
    assert echoed["method"] == "POST" and echoed["query"] == "units=metric"
    assert echoed["headers"]["Content-Type"] == "application/json"
    assert echoed["body"] == b'{"city":"Oslo","days":2}'


async def test_arguments_are_checked_against_the_schema(local_http: LocalHttp) -> None:
    tool = await build(function(f"{local_http.base}/echo/{{city}}", properties=PROPS, required=["city"]),
                       local_http.origin)
    for arguments, message in [({}, "'city' is a required property"), ({"city": "x", "days": "two"}, "days"),
                               ({"city": {"a": 1}}, "city"), ({"city": ".."}, "cannot be empty, '.' or '..'"),
                               ({"city": "."}, "'.'"), ({"city": ""}, "cannot be empty")]:
        with pytest.raises(ToolError, match=message):
            await tool.run(arguments, CONTEXT)
    assert local_http.seen == []


async def test_a_non_2xx_answer_is_an_error_with_status_and_excerpt(local_http: LocalHttp) -> None:
    tool = await build(function(f"{local_http.base}/status/503?text=" + "overloaded%20" * 100), local_http.origin)
    with pytest.raises(ToolError) as caught:
        await tool.run({}, CONTEXT)
    message = caught.value.message
    assert message.startswith("lookup answered HTTP 503: overloaded overloaded")
    assert len(message) < 400 and message.endswith("…")


async def test_the_guard_protects_function_endpoints(local_http: LocalHttp) -> None:
    for url in [f"http://localhost:{local_http.port}/echo", "http://169.254.169.254/latest/meta-data/",
                f"http://[::1]:{local_http.port}/echo"]:
        tool = await build(function(url))
        with pytest.raises(ToolError, match="may not be called"):
            await tool.run({}, CONTEXT)
    tool = await build(function(f"{local_http.base}/redirect?to=http://169.254.169.254/"), local_http.origin)
    with pytest.raises(ToolError, match="may not be called"):
        await tool.run({}, CONTEXT)
    assert local_http.paths() == ["/redirect"]


async def test_big_and_slow_answers_become_errors_for_the_model(local_http: LocalHttp) -> None:
    big = await build(function(f"{local_http.base}/big?bytes=3000000"), local_http.origin,
                      max_response_bytes=1_000_000)
    with pytest.raises(ToolError, match="too large"):
        await big.run({}, CONTEXT)
    slow = await build(function(f"{local_http.base}/slow-body"), local_http.origin, total_timeout_seconds=0.5)
    assert slow.timeout_seconds == 1.5
    with pytest.raises(ToolError, match=r"0\.5 s in total"):
        await slow.run({}, CONTEXT)


async def test_long_answers_are_cut_for_the_model(local_http: LocalHttp) -> None:
    tool = await build(function(f"{local_http.base}/big?bytes=50000&declared=1"), local_http.origin)
    result = await tool.run({}, CONTEXT)
    assert len(result.output) < 20_100 and result.output.endswith("[truncated: 50,000 characters in all]")


async def test_binary_answers_are_described_not_dumped(local_http: LocalHttp) -> None:
    from aiohttp import web

    async def png(request: web.Request, body: bytes) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, content_type="image/png")

    local_http.routes["/chart.png"] = png
    tool = await build(function(f"{local_http.base}/chart.png"), local_http.origin)
    result = await tool.run({}, CONTEXT)
    assert result.output == "lookup answered with 1,032 bytes of image/png, which cannot be shown as text"


async def test_a_function_without_endpoint_is_client_side() -> None:
    guard = OutboundGuard(OutboundSettings())
    toolset = await ToolRegistry([FunctionToolFactory(guard, BOX)]).build(
        [{"type": "function", "name": "pick_color", "description": "Ask the app",
          "parameters": {"type": "object", "properties": {"hue": {"type": "string"}}}}], CONTEXT)
    tool = toolset.get("pick_color")
    assert isinstance(tool, ClientFunctionTool) and tool.client_side
    assert tool.definition().parameters["properties"] == {"hue": {"type": "string"}}
    with pytest.raises(ToolError):
        await tool.run({}, CONTEXT)


async def test_an_unreadable_secret_skips_the_function_with_a_reason(local_http: LocalHttp) -> None:
    config = function(f"{local_http.base}/echo")
    config["endpoint"]["headers"] = {"X-Key": SecretBox("another-key-entirely-0123456789abcdef").encrypt("k")}
    guard = OutboundGuard(OutboundSettings(allow_hosts=[local_http.origin]))
    toolset = await ToolRegistry([FunctionToolFactory(guard, BOX)]).build([config], CONTEXT)
    assert toolset.get("lookup") is None
    assert "X-Key" in toolset.skipped[0]["reason"] and "enter it again" in toolset.skipped[0]["reason"]


def _echo(server: LocalHttp) -> dict[str, Any]:
    return server.seen[-1]


async def test_a_function_saved_through_the_api_calls_its_endpoint_with_the_secret(
        local_http: LocalHttp, client: Any, alice: Any, app_state: Any) -> None:
    from agentcreator.db.models import Assistant

    tool_config = {"type": "function", "name": "search_orders", "description": "Find orders",
                   "parameters": {"type": "object", "properties": {"customer": {"type": "string"},
                                                                   "status": {"type": "string"}}},
                   "endpoint": {"method": "GET", "url": f"{local_http.base}/echo/customers/{{customer}}/orders",
                                "headers": {"Authorization": "Bearer tok-42"}}}
    # the admin admits the internal API (its literal address is refused at save time otherwise)
    outbound_settings = app_state.settings.outbound
    original = outbound_settings.allow_hosts
    outbound_settings.allow_hosts = [local_http.origin]
    try:
        response = await client.post("/api/assistants", json={"name": "Shop", "tools": [tool_config]},
                                     headers=alice.headers)
    finally:
        outbound_settings.allow_hosts = original
    assert response.status_code == 201 and "tok-42" not in response.text
    async with app_state.sessions() as session:
        row = await session.get(Assistant, response.json()["id"])
        configs = row.tools
    guard = OutboundGuard(OutboundSettings(allow_hosts=[local_http.origin]))
    toolset = await ToolRegistry([FunctionToolFactory(guard, app_state.secrets)]).build(configs, CONTEXT)
    result = await toolset.get("search_orders").run({"customer": "c 7", "status": "open"}, CONTEXT)
    assert not result.is_error
    seen = local_http.seen[-1]
    assert seen["raw_path"] == "/echo/customers/c%207/orders?status=open"
    assert seen["headers"]["Authorization"] == "Bearer tok-42"
