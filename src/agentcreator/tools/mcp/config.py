"""What the MCP client needs to know about a server, decrypted and free of the ORM."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from agentcreator.tools.base import ToolError

Transport = Literal["streamable_http", "stdio"]


@dataclass(frozen=True)
class McpServerConfig:
    """One registered server. ``headers`` and ``env`` hold secrets: never log or return them."""

    id: str
    name: str
    transport: Transport
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict, repr=False)
    enabled: bool = True
    call_timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 15.0

    @property
    def key(self) -> str:
        """Identifies a connection: the id plus a digest of everything that shapes it, so an edited
        server gets a new session (calls in flight finish on the old one, which then closes)."""
        shape = json.dumps([self.transport, self.url, sorted(self.headers.items()), self.command,
                            list(self.args), sorted(self.env.items())])
        return f"{self.id}:{hashlib.sha256(shape.encode()).hexdigest()[:16]}"


@dataclass(frozen=True)
class McpToolInfo:
    """A tool as the server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    title: str | None = None


class McpServerDirectory(Protocol):
    """Finds registered servers (``services.mcp_servers`` implements it over the database)."""

    async def resolve(self, ref: str) -> McpServerConfig | None:
        """The server whose id or name is ``ref`` (enabled or not), or None."""
        ...


class McpToolError(ToolError):
    """An MCP server could not be used (down, timed out, refused) or its tool reported an error."""

    code = "mcp_error"
