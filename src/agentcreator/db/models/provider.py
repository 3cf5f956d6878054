from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from agentcreator.db.base import MYSQL_TABLE_ARGS, Base, IdMixin, TimestampMixin
from agentcreator.db.types import SafeJSON, SafeText


class Provider(IdMixin, TimestampMixin, Base):
    """A model provider added by an admin. The API key is encrypted at rest and never returned."""

    __tablename__ = "providers"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    name: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)  # openai | openai_compatible
    base_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    api_key_encrypted: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    # Declared models with capabilities: [{"name", "context_length", "vision", "tools"}].
    models: Mapped[list[dict[str, Any]]] = mapped_column(SafeJSON(), default=list, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # The SSRF guard admits the base URL's host on a loopback or private address only when the
    # administrator said so (Ollama on localhost); every other connection must reach a public address.
    allow_private_network: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(),
                                                        nullable=False)
    # Who may use the provider's models: None for every user; else administrators and these user ids.
    allowed_user_ids: Mapped[list[str] | None] = mapped_column(SafeJSON(), nullable=True)
