"""A run of an answer and its steps, as the API shows them (docs/tools.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentcreator.chat.events import RunStatusName


class RunStepPublic(BaseModel):
    """``model_call``: its round, finish reason, usage and the tool calls it asked for; ``tool_calls``:
    each call's name, status, duration, fee and whether it failed."""

    model_config = ConfigDict(from_attributes=True)

    index: int = Field(validation_alias="step_index")
    kind: Literal["model_call", "tool_calls"]
    status: str
    details: dict[str, Any]
    cost_micros: int
    started_at: datetime
    finished_at: datetime


class PendingToolCall(BaseModel):
    """A client-side function call the run waits for: submit its output to
    ``POST /api/conversations/{conversation_id}/runs/{run_id}/tool_outputs``."""

    call_id: str
    name: str
    arguments: str


class RunPublic(BaseModel):
    id: str
    conversation_id: str
    message_id: str
    assistant_id: str | None
    model: str
    status: RunStatusName
    ended_by: str | None
    rounds: int
    cost_micros: int
    error: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None
    pending_tool_calls: list[PendingToolCall] = Field(
        default_factory=list, description="While ``requires_action``: the calls waiting for their outputs.")
    steps: list[RunStepPublic] = Field(default_factory=list)


class RunsPublic(BaseModel):
    data: list[RunPublic]
    count: int
