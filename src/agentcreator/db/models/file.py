from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from agentcreator.db.base import MYSQL_TABLE_ARGS, Base, IdMixin, TimestampMixin
from agentcreator.db.types import SafeJSON, SafeString


class File(IdMixin, TimestampMixin, Base):
    """An uploaded file. The bytes live in the file storage under generated keys: the stored file, and
    for images the copy sent to models and a thumbnail, for documents the extracted text. The same
    bytes uploaded again by the same owner share the keys of the first upload (``sha256``), so a
    stored file is removed when its last row goes.

    ``conversation_id``: the conversation it was first attached to; ``assistant_id``: the assistant
    it belongs to. Deleting either deletes the file (files/cascade.py removes the bytes)."""

    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_owner_created", "owner_id", "created_at"),
        Index("ix_files_owner_sha256", "owner_id", "sha256"),
        Index("ix_files_conversation", "conversation_id"),
        Index("ix_files_assistant", "assistant_id"),
        Index("ix_files_storage_key", "storage_key"),
        MYSQL_TABLE_ARGS,
    )

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=True)
    assistant_id: Mapped[str | None] = mapped_column(ForeignKey("assistants.id", ondelete="CASCADE"), nullable=True)
    name: Mapped[str] = mapped_column(SafeString(255), nullable=False)
    mime: Mapped[str] = mapped_column(String(120), nullable=False)
    format: Mapped[str] = mapped_column(String(16), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # image | document
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)  # vision | assistants
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(80), nullable=False)
    model_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    thumbnail_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    text_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    page_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    text_chars: Mapped[int | None] = mapped_column(Integer, nullable=True)
    text_truncated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    meta: Mapped[dict[str, Any]] = mapped_column(SafeJSON(), default=dict, nullable=False)

    @property
    def keys(self) -> list[str]:
        return [k for k in (self.storage_key, self.model_key, self.thumbnail_key, self.text_key) if k]
