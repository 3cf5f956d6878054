"""File schemas: FilePublic, FilesPublic (with the storage used), FileUse."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class FileUse(BaseModel):
    """A message whose content points to the file."""

    message_id: str
    conversation_id: str


class FilePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    mime: str
    format: str
    kind: Literal["image", "document"]
    purpose: Literal["vision", "assistants"]
    size: int
    sha256: str
    width: int | None
    height: int | None
    page_count: int | None
    text_chars: int | None
    text_truncated: bool
    conversation_id: str | None
    assistant_id: str | None
    created_at: datetime
    has_thumbnail: bool = False
    used_in: list[FileUse] = []


class StorageUse(BaseModel):
    used_bytes: int
    quota_bytes: int
    max_file_bytes: int


class FilesPublic(BaseModel):
    data: list[FilePublic]
    count: int
    storage: StorageUse
