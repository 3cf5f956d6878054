from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from agentcreator.api.schemas.common import StrictInput
from agentcreator.chat.events import MessageSnapshot


class TextPartIn(StrictInput):
    type: Literal["text"] = "text"
    text: str = Field(max_length=100_000)


class ImagePartIn(StrictInput):
    type: Literal["image"] = "image"
    url: str = Field(max_length=20_000_000, description="https:// URL or data:image/...;base64 URL")
    detail: Literal["auto", "low", "high"] = "auto"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not (value.startswith("https://") or value.startswith("data:image/")):
            raise ValueError("an image must be an https:// URL or a data:image/... URL")
        return value


PartIn = Annotated[TextPartIn | ImagePartIn, Field(discriminator="type")]


class MessageCreate(StrictInput):
    """A user message: plain text, or a list of parts (text and images)."""

    content: str | list[PartIn] = Field(min_length=1)

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str | list[Any]) -> str | list[Any]:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("the message is empty")
            if len(value) > 100_000:
                raise ValueError("the message is longer than 100000 characters")
            return value
        if len(value) > 20:
            raise ValueError("at most 20 parts per message")
        if not any((p.type == "text" and p.text.strip()) or p.type == "image" for p in value):
            raise ValueError("the message is empty")
        return value

    def parts(self) -> list[dict[str, Any]]:
        if isinstance(self.content, str):
            return [{"type": "text", "text": self.content}]
        return [p.model_dump() for p in self.content]


class TurnResult(BaseModel):
    """The outcome of a turn (non-streaming sends): check ``assistant_message.status``. When the send
    reached the message cap, the turn ran in a continuation: ``conversation_id`` is the new
    conversation and ``continued_from`` the one the message was sent to."""

    conversation_id: str
    continued_from: str | None = None
    user_message: MessageSnapshot | None
    assistant_message: MessageSnapshot


class StopResult(BaseModel):
    stopped: bool


class VersionInfo(BaseModel):
    index: int = Field(description="0-based position among the versions of this message")
    count: int
    ids: list[str]


class ThreadMessage(MessageSnapshot):
    version: VersionInfo


class ThreadPublic(BaseModel):
    """The branch being shown, oldest first, with the versions of each message."""

    conversation_id: str
    active_leaf_id: str | None
    running: bool
    data: list[ThreadMessage]
