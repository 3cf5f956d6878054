from __future__ import annotations

from sqlalchemy import Boolean, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from agentcreator.db.base import MYSQL_TABLE_ARGS, Base, IdMixin, TimestampMixin
from agentcreator.db.types import SafeJSON, SafeString, SafeText


class McpServer(IdMixin, TimestampMixin, Base):
    """An MCP server registered by an admin, platform-wide (docs/mcp.md).

    ``streamable_http``: ``url`` plus optional headers. ``stdio``: ``command`` + ``args`` run on this
    server. Headers and environment variables are encrypted at rest (one JSON object each, through
    ``core.security.SecretBox``) and never returned: the API shows their names only."""

    __tablename__ = "mcp_servers"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    name: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    description: Mapped[str] = mapped_column(SafeText(), default="", nullable=False)
    transport: Mapped[str] = mapped_column(String(20), nullable=False)  # streamable_http | stdio
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    headers_encrypted: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    header_names: Mapped[list[str]] = mapped_column(SafeJSON(), default=list, nullable=False)
    command: Mapped[str | None] = mapped_column(SafeString(1000), nullable=True)
    args: Mapped[list[str]] = mapped_column(SafeJSON(), default=list, nullable=False)
    env_encrypted: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    env_names: Mapped[list[str]] = mapped_column(SafeJSON(), default=list, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    call_timeout_seconds: Mapped[float] = mapped_column(Float, nullable=False)
    connect_timeout_seconds: Mapped[float] = mapped_column(Float, nullable=False)
