"""Typed message parts: one definition for the API, the stored message documents and the run loop.

A message's ``content`` is a list of parts discriminated by ``type``. An answer of a run holds, in
order, the text of each model round and a ``tool_call`` part per call (its arguments, status, result,
duration and cost), then the final text; citations, files and images the tools produced follow their
call. Stored documents are validated into these models when they are read, so unknown extra fields
from older or newer writers are kept (``extra="allow"``) rather than lost.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

NO_RESULT_OUTPUT = "No result was given for this call."  # a call that never finished, as the model reads it


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextPart(_Part):
    type: Literal["text"] = "text"
    text: str


class ImagePart(_Part):
    """An image: an uploaded file (``file_id``) or, in older messages, a URL."""

    type: Literal["image"] = "image"
    url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high"] = "auto"


class FilePart(_Part):
    """A file attached to (or produced in) a message. ``deleted``: the file is gone; the part stays."""

    type: Literal["file"] = "file"
    file_id: str
    name: str = ""
    mime: str = ""
    kind: Literal["image", "document", "other"] = "other"
    size: int | None = None
    deleted: bool = False


class CitationPart(_Part):
    """Where a statement came from: a web page (``url``) or a passage of a file (``file_id``, offsets)."""

    type: Literal["citation"] = "citation"
    title: str = ""
    url: str | None = None
    snippet: str = ""
    file_id: str | None = None
    page: int | None = None
    char_start: int | None = None
    char_end: int | None = None


ToolCallStatus = Literal["running", "complete", "failed", "stopped", "requires_action"]


class ToolCallPart(_Part):
    """One tool call of a run and its result. ``output`` is what the model read back."""

    type: Literal["tool_call"] = "tool_call"
    call_id: str
    name: str
    arguments: str = "{}"
    status: ToolCallStatus = "running"
    output: str | None = None
    is_error: bool = False
    round: int = 0
    duration_ms: int | None = None
    cost_micros: int = 0
    # Typed parts the tool produced for the answer (citations, files, images).
    result_parts: list[dict[str, Any]] = Field(default_factory=list)
    # A stateful tool's session (the code interpreter): why it was restarted before this call (the
    # variables of earlier calls are gone), and why this call ended it. None: nothing to say.
    session_restarted: str | None = None
    session_ended: str | None = None
    cpu_seconds: float | None = None  # where the tool measures them (the code interpreter)
    # Run by the model's provider inside its call (OpenAI's hosted tools): never replayed to a model.
    hosted: bool = False


class HandoffPart(_Part):
    """The run continued with another assistant from here."""

    type: Literal["handoff"] = "handoff"
    assistant_id: str
    name: str = ""


class NoticePart(_Part):
    """Something the user should know about how the answer was made (e.g. tools left out)."""

    type: Literal["notice"] = "notice"
    code: str
    message: str


MessagePart = Annotated[
    TextPart | ImagePart | FilePart | CitationPart | ToolCallPart | HandoffPart | NoticePart,
    Field(discriminator="type"),
]
MessageParts: TypeAdapter[list[MessagePart]] = TypeAdapter(list[MessagePart])


def dump_parts(parts: list[BaseModel]) -> list[dict[str, Any]]:
    """Parts as stored in the message document (JSON-ready dicts, defaults left out)."""
    return [part.model_dump(mode="json", exclude_defaults=True) | {"type": part.type} for part in parts]  # type: ignore[attr-defined]


def text_of(parts: list[dict[str, Any]]) -> str:
    return "".join(p.get("text", "") for p in parts if p.get("type") == "text")
