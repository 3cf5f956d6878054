from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from agentcreator.api.schemas.common import StrictInput
from agentcreator.chat.events import MessageSnapshot
from agentcreator.chat.tool_outputs import MAX_SUBMITTED_OUTPUT_CHARS, MAX_SUBMITTED_OUTPUTS, ToolOutput


class TextPartIn(StrictInput):
    type: Literal["text"] = "text"
    text: str = Field(max_length=100_000)


class ImagePartIn(StrictInput):
    type: Literal["image"] = "image"
    url: str = Field(max_length=20_000_000, description=(
        "https:// URL or data:image/...;base64 URL. Fetched once (through the server's SSRF guard: public "
        "addresses only) or decoded, checked and stored as your file like an upload; the message keeps a "
        "file part. Refused: 400 blocked_destination, 413 file_too_large, 415 not an image, 422 "
        "image_url_failed / image_too_large / damaged_file."))
    detail: Literal["auto", "low", "high"] = "auto"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not (value.startswith("https://") or value.startswith("data:image/")):
            raise ValueError("an image must be an https:// URL or a data:image/... URL")
        return value


PartIn = Annotated[TextPartIn | ImagePartIn, Field(discriminator="type")]


FileId = Annotated[str, Field(min_length=1, max_length=64)]
MAX_FILES_PER_MESSAGE = 10


class MessageCreate(StrictInput):
    """A user message: plain text, or a list of parts (text and images), and uploaded files to attach
    (``file_ids``: ``POST /api/files`` first). With files, the text may be empty."""

    content: str | list[PartIn] = ""
    file_ids: list[FileId] = Field(default_factory=list, max_length=MAX_FILES_PER_MESSAGE)

    @field_validator("content")
    @classmethod
    def _bounded(cls, value: str | list[Any]) -> str | list[Any]:
        if isinstance(value, str):
            if len(value) > 100_000:
                raise ValueError("the message is longer than 100000 characters")
            return value
        if len(value) > 20:
            raise ValueError("at most 20 parts per message")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> MessageCreate:
        if self.file_ids:
            return self
        if isinstance(self.content, str):
            if not self.content.strip():
                raise ValueError("the message is empty")
        elif not any((p.type == "text" and p.text.strip()) or p.type == "image" for p in self.content):
            raise ValueError("the message is empty")
        return self

    def parts(self) -> list[dict[str, Any]]:
        if isinstance(self.content, str):
            return [{"type": "text", "text": self.content}] if self.content.strip() or not self.file_ids else []
        return [p.model_dump() for p in self.content]


class ToolOutputIn(StrictInput):
    tool_call_id: str = Field(min_length=1, max_length=200, description="The pending call's `call_id`")
    output: str = Field(max_length=MAX_SUBMITTED_OUTPUT_CHARS,
                        description="What the function returned, as text (JSON as a string); the model reads "
                                    "at most the server's tool result limit of it")


class ToolOutputsSubmit(StrictInput):
    """The outputs of a run's pending client-side function calls (the answer's `tool_call` parts in
    status `requires_action`): exactly one for each."""

    tool_outputs: list[ToolOutputIn] = Field(min_length=1, max_length=MAX_SUBMITTED_OUTPUTS)

    def outputs(self) -> list[ToolOutput]:
        return [ToolOutput(call_id=item.tool_call_id, output=item.output) for item in self.tool_outputs]


class TurnResult(BaseModel):
    """The outcome of a turn (non-streaming sends): check ``assistant_message.status``. When the send
    reached the message cap, the turn ran in a continuation: ``conversation_id`` is the new
    conversation and ``continued_from`` the one the message was sent to."""

    conversation_id: str
    continued_from: str | None = None
    user_message: MessageSnapshot | None
    assistant_message: MessageSnapshot
    # The run that wrote the answer: when a client-side function paused it (``tool_call`` parts in status
    # ``requires_action``), submit their outputs to ``/runs/{run_id}/tool_outputs``.
    run_id: str | None = None


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
