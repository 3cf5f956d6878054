"""The ``mcp`` tool type: ``{"type": "mcp", "server": "<name or id>", "tools": ["name", ...]}``.

One :class:`McpTool` per chosen tool of the server (an empty list: all of them), named
``mcp_<server>__<tool>`` within the provider rules for function names (``^[a-zA-Z0-9_-]{1,64}$``).
Arguments go to the server as they are (JSON): the server validates them, and its complaint comes back
to the model as the tool's error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

from agentcreator.core.config import McpSettings
from agentcreator.tools.base import Tool, ToolContext, ToolResult
from agentcreator.tools.mcp.config import McpServerConfig, McpServerDirectory, McpToolError, McpToolInfo
from agentcreator.tools.mcp.pool import McpClientPool
from agentcreator.tools.mcp.results import to_tool_result

log = logging.getLogger(__name__)

NAME_MAX = 64
DESCRIPTION_MAX = 1024
# A tool whose input schema is larger than this (as JSON) is left out: it would crowd the model's context.
SCHEMA_MAX_CHARS = 50_000
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")


def function_names(server: str, tools: list[str]) -> dict[str, str]:
    """The function name of each of a server's tools: ``mcp_<server>__<tool>`` with every character
    outside ``[a-zA-Z0-9_-]`` replaced by ``_``. A name that is too long, or that a changed name would
    share with another tool's, ends with a digest of the original instead; a tool whose name needed no
    change keeps its plain name. The result depends on the set of tools, not their order, so the names
    in a conversation's history stay stable when a server lists its tools in another order."""
    prefix = f"mcp_{_INVALID.sub('_', server)}__"
    plain = {tool: prefix + _INVALID.sub("_", tool) for tool in tools}
    holders: dict[str, list[str]] = {}
    for tool, name in plain.items():
        holders.setdefault(name, []).append(tool)
    names: dict[str, str] = {}
    for tool, name in plain.items():
        unchanged = _INVALID.sub("_", tool) == tool  # at most one tool of a group can be
        if len(name) <= NAME_MAX and (len(holders[name]) == 1 or unchanged):
            names[tool] = name
        else:
            suffix = "_" + hashlib.sha256(f"{server}/{tool}".encode()).hexdigest()[:10]
            names[tool] = name[: NAME_MAX - len(suffix)] + suffix
    return names


class McpTool(Tool):
    def __init__(self, pool: McpClientPool, server: McpServerConfig, info: McpToolInfo, name: str,
                 settings: McpSettings) -> None:
        self._pool = pool
        self._server = server
        self._info = info
        self._settings = settings
        self.name = name
        self.description = _description(server, info)
        self.parameters = _parameters(info.input_schema)
        # The loop's bound: the call's own timeout, plus the time to open a session.
        self.timeout_seconds = server.call_timeout_seconds + server.connect_timeout_seconds
        self.price_key = f"mcp:{server.name}"
        self.activity = f"Using {info.title or info.name} ({server.name})…"

    @property
    def mcp_name(self) -> str:
        return self._info.name

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        if not isinstance(arguments, dict):
            raise McpToolError("the arguments must be a JSON object", code="mcp_bad_arguments")
        result = await self._pool.call_tool(self._server, self._info.name, arguments)
        return to_tool_result(result, server=self._server.name, tool=self._info.name,
                              max_image_bytes=self._settings.max_image_bytes)


class McpToolFactory:
    type = "mcp"

    def __init__(self, directory: McpServerDirectory, pool: McpClientPool, settings: McpSettings) -> None:
        self._directory = directory
        self._pool = pool
        self._settings = settings

    async def tools_for(self, config: dict[str, Any], context: ToolContext) -> list[Tool]:
        server = await self.usable_server(str(config.get("server", "")))
        listed = await self._pool.list_tools(server)
        names = function_names(server.name, [info.name for info in listed])
        chosen = [str(name) for name in config.get("tools") or []]
        if chosen:
            wanted = set(chosen)
            selected = [info for info in listed if info.name in wanted]
            missing = wanted - {info.name for info in selected}
            if missing:
                log.warning("MCP server %s no longer lists %s", server.name, sorted(missing))
        else:
            selected = listed
        oversized = {info.name for info in selected if len(json.dumps(info.input_schema)) > SCHEMA_MAX_CHARS}
        if oversized:
            log.warning("MCP server %s: input schema too large, left out: %s", server.name, sorted(oversized))
        return [McpTool(self._pool, server, info, names[info.name], self._settings)
                for info in selected if info.name not in oversized]

    async def usable_server(self, ref: str) -> McpServerConfig:
        """The registered server ``ref`` names, if it can be used; else a clear :class:`McpToolError`."""
        server = await self._directory.resolve(ref) if ref else None
        if server is None:
            raise McpToolError(f"MCP server '{ref[:64]}' is not registered", code="mcp_unknown_server")
        if not server.enabled:
            raise McpToolError(f"MCP server '{server.name}' is disabled", code="mcp_server_disabled")
        if server.transport == "stdio" and not self._settings.stdio_enabled:
            raise McpToolError(f"MCP server '{server.name}' runs over stdio, which is turned off on this platform",
                               code="mcp_stdio_disabled")
        return server


def _description(server: McpServerConfig, info: McpToolInfo) -> str:
    text = info.description.strip() or info.title or info.name
    return f"[{server.name}] {text}"[:DESCRIPTION_MAX]


def _parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """The tool's input schema; MCP requires an object schema, so anything else becomes an empty one."""
    if schema.get("type", "object") != "object":
        return {"type": "object", "properties": {}}
    return {"type": "object", **schema} if "type" not in schema else schema
