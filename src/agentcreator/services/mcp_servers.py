"""MCP servers: the admin's registry, the catalog users pick tools from, and the directory the ``mcp``
tool type reads (docs/mcp.md).

Headers and environment variables are stored encrypted (one JSON object each, ``SecretBox``) and never
returned. Talking to a server (the connection test, the catalog) happens with no database session
open: the configuration is read in a short session first.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.core.config import McpSettings
from agentcreator.core.errors import Conflict, NotFound, ValidationFailed
from agentcreator.core.security import SecretBox
from agentcreator.db.models import McpServer
from agentcreator.db.session import session_scope
from agentcreator.repositories import mcp_servers as server_repo
from agentcreator.tools.mcp import (
    McpClientPool,
    McpServerConfig,
    McpToolError,
    McpToolFactory,
    McpToolInfo,
)


@dataclass(frozen=True)
class CatalogEntry:
    """An enabled server as users see it: its tools, or why they could not be listed."""

    id: str
    name: str
    description: str
    tools: list[McpToolInfo]
    error: McpToolError | None


class McpServerService:
    """Built once in the app's lifespan; owns the process's :class:`McpClientPool`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], secrets: SecretBox, settings: McpSettings) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self.settings = settings
        self.pool = McpClientPool(settings)

    def tool_factory(self) -> McpToolFactory:
        """The ``mcp`` tool type, for the run loop's ``ToolRegistry``."""
        return McpToolFactory(self, self.pool, self.settings)

    async def aclose(self) -> None:
        await self.pool.aclose()

    # The directory the tool factory reads.
    async def resolve(self, ref: str) -> McpServerConfig | None:
        async with session_scope(self._sessions) as session:
            row = await server_repo.get_by_ref(session, ref)
        return self.config(row) if row is not None else None

    def config(self, row: McpServer) -> McpServerConfig:
        """The decrypted configuration; :class:`McpToolError` when its secrets cannot be decrypted."""
        return McpServerConfig(
            id=row.id, name=row.name, transport=row.transport,  # type: ignore[arg-type]
            url=row.url, headers=self._open(row, row.headers_encrypted), command=row.command,
            args=tuple(row.args or ()), env=self._open(row, row.env_encrypted), enabled=row.enabled,
            call_timeout_seconds=row.call_timeout_seconds, connect_timeout_seconds=row.connect_timeout_seconds)

    # Admin use cases (the session is the request's; the service commits).
    async def list(self, session: AsyncSession) -> list[McpServer]:
        return await server_repo.list_all(session)

    async def get(self, session: AsyncSession, server_id: str) -> McpServer:
        row = await server_repo.get(session, server_id)
        if row is None:
            raise NotFound("MCP server")
        return row

    async def create(self, session: AsyncSession, fields: dict[str, Any]) -> McpServer:
        if await server_repo.get_by_name(session, fields["name"]):
            raise Conflict(f"An MCP server named '{fields['name']}' already exists", code="mcp_server_exists")
        self._check_stdio_allowed(fields["transport"])
        headers, env = fields.pop("headers", {}), fields.pop("env", {})
        fields["call_timeout_seconds"] = fields.get("call_timeout_seconds") or self.settings.default_call_timeout_seconds
        fields["connect_timeout_seconds"] = (fields.get("connect_timeout_seconds")
                                             or self.settings.default_connect_timeout_seconds)
        self._check_timeout(fields["call_timeout_seconds"])
        row = McpServer(**fields)
        self._seal(row, headers=headers, env=env)
        session.add(row)
        await session.commit()
        return row

    async def update(self, session: AsyncSession, server_id: str, changes: dict[str, Any]) -> McpServer:
        row = await self.get(session, server_id)
        http_only, stdio_only = {"url", "headers"} & set(changes), {"command", "args", "env"} & set(changes)
        wrong = stdio_only if row.transport == "streamable_http" else http_only
        if wrong:
            raise ValidationFailed(f"{', '.join(sorted(wrong))}: not used by a {row.transport} server",
                                   code="mcp_transport_mismatch")
        if row.transport == "stdio" and stdio_only:
            self._check_stdio_allowed(row.transport)
        if "call_timeout_seconds" in changes:
            self._check_timeout(changes["call_timeout_seconds"])
        self._seal(row, headers=changes.pop("headers", None), env=changes.pop("env", None))
        for key, value in changes.items():
            setattr(row, key, value)
        await session.commit()
        self.pool.forget(row.id)
        return row

    async def delete(self, session: AsyncSession, server_id: str) -> None:
        row = await self.get(session, server_id)
        await session.delete(row)
        await session.commit()
        self.pool.forget(server_id)

    async def test_connection(self, server_id: str) -> tuple[McpServerConfig, list[McpToolInfo]]:
        """Connect afresh with the stored settings (enabled or not) and list the tools."""
        async with session_scope(self._sessions) as session:
            row = await server_repo.get(session, server_id)
            config = self.config(row) if row is not None else None
        if config is None:
            raise NotFound("MCP server")
        if config.transport == "stdio" and not self.settings.stdio_enabled:
            raise McpToolError("stdio MCP servers are turned off on this platform", code="mcp_stdio_disabled")
        return config, await self.pool.probe(config)

    async def catalog(self) -> list[CatalogEntry]:
        """Every enabled server with its tools (listed concurrently, from the cache when fresh), or why
        they could not be listed."""
        async with session_scope(self._sessions) as session:
            rows = await server_repo.list_all(session, enabled_only=True)

        async def listed(row: McpServer) -> CatalogEntry:
            try:
                config = self.config(row)
                if config.transport == "stdio" and not self.settings.stdio_enabled:
                    raise McpToolError("stdio MCP servers are turned off on this platform", code="mcp_stdio_disabled")
                tools, error = await self.pool.list_tools(config), None
            except McpToolError as exc:
                tools, error = [], exc
            return CatalogEntry(row.id, row.name, row.description, tools, error)

        return list(await asyncio.gather(*(listed(row) for row in rows)))

    def _seal(self, row: McpServer, *, headers: dict[str, str] | None, env: dict[str, str] | None) -> None:
        if headers is not None:
            row.headers_encrypted = self._secrets.encrypt(json.dumps(headers)) if headers else None
            row.header_names = sorted(headers)
        if env is not None:
            row.env_encrypted = self._secrets.encrypt(json.dumps(env)) if env else None
            row.env_names = sorted(env)

    def _open(self, row: McpServer, sealed: str | None) -> dict[str, str]:
        if not sealed:
            return {}
        try:
            return dict(json.loads(self._secrets.decrypt(sealed)))
        except ValueError as exc:  # SECRET_KEY changed, or the data is damaged
            raise McpToolError(f"MCP server '{row.name}': its stored secrets cannot be decrypted; an admin must "
                               "set them again", code="mcp_secrets_unreadable") from exc

    def _check_stdio_allowed(self, transport: str) -> None:
        if transport == "stdio" and not self.settings.stdio_enabled:
            raise ValidationFailed("stdio MCP servers are turned off on this platform (MCP__STDIO_ENABLED)",
                                   code="mcp_stdio_disabled")

    def _check_timeout(self, seconds: float) -> None:
        if seconds > self.settings.max_call_timeout_seconds:
            raise ValidationFailed(f"call_timeout_seconds: at most {self.settings.max_call_timeout_seconds:g}",
                                   code="mcp_timeout_too_long")


async def check_assistant_tools(session: AsyncSession, tools: list[dict[str, Any]]) -> None:
    """``mcp`` entries of an assistant's tools must name a registered, enabled server (422 otherwise)."""
    refs = [(i, str(t.get("server", ""))) for i, t in enumerate(tools) if t.get("type") == "mcp"]
    if not refs:
        return
    rows = await server_repo.by_refs(session, [ref for _, ref in refs])
    known = {row.name: row for row in rows} | {row.id: row for row in rows}
    seen: dict[str, int] = {}
    for index, ref in refs:
        row = known.get(ref)
        if row is None:
            problem = "MCP server not found"
        elif not row.enabled:
            problem = f"MCP server '{row.name}' is disabled"
        elif row.id in seen:
            problem = f"MCP server '{row.name}' is already in the tools (entry {seen[row.id]})"
        else:
            seen[row.id] = index
            continue
        raise ValidationFailed(f"tools.{index}.server: {problem}", code="mcp_server_unavailable",
                               details=[{"loc": ["body", "tools", index, "server"], "msg": problem,
                                         "type": "mcp_server_unavailable"}])
