"""Conversation and message schemas: ConversationCreate, ConversationUpdate, ConversationPublic,
ConversationsPublic, MessagePublic, MessagesPublic, MessageSearchHit, MessageSearchResults."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    computed_field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from agentcreator.api.schemas.common import Page, StrictInput

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class ConversationCreate(StrictInput):
    """Start a conversation ("new thread") with one of your assistants."""

    assistant_id: Annotated[str, Field(min_length=1, max_length=64)]
    # null or absent: "New conversation".
    title: Title | None = None
    # Reopen the newest conversation with this assistant that has no message yet, if there is one
    # (only without a title): what the web app's "Start chat" sends.
    reuse_empty: StrictBool = False


ModelId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]


class ConversationUpdate(StrictInput):
    title: Title | None = None
    archived: bool | None = None
    # The model this conversation answers with ("provider/model"): one of the models of its assistant's
    # provider that the platform serves (GET /api/models). null: back to the assistant's model.
    model: ModelId | None = None

    @model_validator(mode="after")
    def _no_explicit_null(self) -> ConversationUpdate:
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None and f != "model")
        if nulls:
            raise PydanticCustomError("null_not_allowed", "fields may be omitted but not null: {fields}",
                                      {"fields": ", ".join(nulls)})
        return self


class ConversationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    # null once the assistant has been deleted: the history stays readable.
    assistant_id: str | None
    title: str
    archived: bool
    # The conversation this one continues (when the message cap was reached), if any.
    parent_id: str | None
    # Where this conversation continues once it reached its message cap; it is then read-only.
    continued_in_id: str | None = None
    # A continuation's summary of the conversation it continues (sent with the instructions).
    summary: str | None = None
    # The model chosen for this conversation ("provider/model"); null: its assistant's model.
    model: str | None = None
    message_count: int
    last_activity_at: datetime
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def read_only(self) -> bool:
        """True once the conversation continued elsewhere: sending here answers 409."""
        return self.continued_in_id is not None


class ConversationsPublic(Page[ConversationPublic]):
    pass


class MessageSearchHit(BaseModel):
    """A message whose text matched a search, with where it is and the text around the match."""

    message_id: str
    role: str
    snippet: str
    created_at: datetime
    conversation_id: str
    conversation_title: str
    archived: bool


class MessageSearchResults(BaseModel):
    data: list[MessageSearchHit]
    count: int


class MessagePublic(BaseModel):
    """One message. ``content`` is a list of parts (``{"type": "text", "text": ...}``, images, files);
    ``text`` is its plain-text rendering. ``status``: complete, streaming, stopped, failed, interrupted."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    conversation_id: str
    role: str
    content: list[dict[str, Any]]
    text: str
    status: str
    error: dict[str, Any] | None
    parent_id: str | None
    model: str | None
    usage: dict[str, Any] | None
    cost_micros: int | None
    # On the copies a continuation carried over: the original message's id.
    carried_from_id: str | None = None
    created_at: datetime
    updated_at: datetime


class MessagesPublic(Page[MessagePublic]):
    pass
