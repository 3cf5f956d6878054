"""The events a client sees during a chat turn: one discriminated union, mirrored in
frontend/src/types/stream.ts. Sent as WebSocket JSON frames and SSE ``event:``/``data:`` pairs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from agentcreator.chat.parts import MessagePart, ToolCallPart

MessageStatus = Literal["complete", "streaming", "stopped", "failed", "interrupted"]


class MessageSnapshot(BaseModel):
    """A message as clients see it (also the API's MessagePublic)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    conversation_id: str
    role: Literal["user", "assistant", "system", "tool"]
    content: list[MessagePart]
    text: str
    status: MessageStatus
    error: dict[str, Any] | None = None
    parent_id: str | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    cost_micros: int | None = None
    # Set on the copies a continuation carries over: the id of the original message.
    carried_from_id: str | None = None
    created_at: datetime
    updated_at: datetime


class ErrorInfo(BaseModel):
    code: str
    message: str
    retryable: bool = False


RunStatusName = Literal["in_progress", "requires_action", "completed", "failed", "cancelled", "incomplete"]


class TurnStarted(BaseModel):
    type: Literal["turn_started"] = "turn_started"
    turn_id: str
    conversation_id: str
    user_message: MessageSnapshot | None
    assistant_message: MessageSnapshot
    # The send reached the message cap of this (old) conversation: the turn runs in ``conversation_id``.
    continued_from: str | None = None
    # The run writing the answer: a run paused in ``requires_action`` takes the caller's tool outputs
    # (``POST /api/conversations/{id}/runs/{run_id}/tool_outputs``) and goes on as a new turn.
    run_id: str | None = None


class Queued(BaseModel):
    """The model is busy with other requests; this one waits at ``position``."""

    type: Literal["queued"] = "queued"
    message_id: str
    position: int


class TextDelta(BaseModel):
    type: Literal["text_delta"] = "text_delta"
    message_id: str
    text: str


class UsageUpdate(BaseModel):
    type: Literal["usage"] = "usage"
    message_id: str
    usage: dict[str, Any]


class ToolCallStarted(BaseModel):
    """The model began a tool call; its arguments follow as ``tool_call_delta`` events."""

    type: Literal["tool_call_started"] = "tool_call_started"
    message_id: str
    call_id: str
    name: str
    round: int


class ToolCallDelta(BaseModel):
    type: Literal["tool_call_delta"] = "tool_call_delta"
    message_id: str
    call_id: str
    arguments_delta: str


class ToolCallUpdated(BaseModel):
    """A tool call's state: ``running`` (its arguments are complete and the tool works, ``activity``
    says on what), then finished with its result (``complete``, ``failed`` or ``stopped``)."""

    type: Literal["tool_call_updated"] = "tool_call_updated"
    message_id: str
    part: ToolCallPart
    activity: str | None = None


class StepFinished(BaseModel):
    """A step of the run is saved: a model call (``model_call``) or a round of tool calls (``tool_calls``)."""

    type: Literal["step_finished"] = "step_finished"
    message_id: str
    run_id: str
    index: int
    kind: Literal["model_call", "tool_calls"]
    cost_micros: int
    usage: dict[str, Any] | None = None


class Notice(BaseModel):
    """How the answer is being made, e.g. ``tools_unavailable``: the model answers without its tools."""

    type: Literal["notice"] = "notice"
    message_id: str
    code: str
    message: str


class TurnCompleted(BaseModel):
    type: Literal["turn_completed"] = "turn_completed"
    message: MessageSnapshot
    # The run that wrote the answer and how it ended: ``requires_action`` means it waits for the
    # caller's function outputs (docs/tools.md). None when a sweep ended a dead process's turn.
    run_id: str | None = None
    run_status: RunStatusName | None = None


class TurnStopped(BaseModel):
    type: Literal["turn_stopped"] = "turn_stopped"
    message: MessageSnapshot
    # The run that wrote the answer and how it ended: ``requires_action`` means it waits for the
    # caller's function outputs (docs/tools.md). None when a sweep ended a dead process's turn.
    run_id: str | None = None
    run_status: RunStatusName | None = None


class TurnFailed(BaseModel):
    type: Literal["turn_failed"] = "turn_failed"
    message: MessageSnapshot
    error: ErrorInfo
    run_id: str | None = None
    run_status: RunStatusName | None = None


class ConversationUpdated(BaseModel):
    """Conversation metadata changed during the turn (e.g. a generated title)."""

    type: Literal["conversation_updated"] = "conversation_updated"
    conversation_id: str
    title: str


class ConversationContinued(BaseModel):
    """Published on the old conversation when its message cap made a send continue elsewhere.
    ``summary_source``: "model" (written by the model) or "extract" (its last messages, cut)."""

    type: Literal["conversation_continued"] = "conversation_continued"
    conversation_id: str
    continued_in_id: str
    summary_source: Literal["model", "extract"]


TurnEvent = Annotated[
    TurnStarted | Queued | TextDelta | UsageUpdate | ToolCallStarted | ToolCallDelta | ToolCallUpdated
    | StepFinished | Notice | TurnCompleted | TurnStopped | TurnFailed | ConversationUpdated
    | ConversationContinued,
    Field(discriminator="type"),
]
TurnEventAdapter: TypeAdapter[TurnEvent] = TypeAdapter(TurnEvent)
TERMINAL_TYPES = frozenset({"turn_completed", "turn_stopped", "turn_failed"})


def to_wire(event: BaseModel) -> dict[str, Any]:
    return event.model_dump(mode="json")
