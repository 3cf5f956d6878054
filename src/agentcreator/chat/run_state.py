"""What a run has done so far: its parts (the answer as the user sees it), the messages the model
reads next, usage and cost, and how it ended."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from agentcreator.billing import Reservation
from agentcreator.billing.metered import MeteredCall
from agentcreator.chat import events as ev
from agentcreator.chat.model_step import ModelRound
from agentcreator.chat.parts import CitationPart, NoticePart, TextPart, ToolCallPart
from agentcreator.llm.types import ChatMessage, ModelRequest, Usage


class RunStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    REQUIRES_ACTION = "requires_action"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"


# The answer's status for each way a run ends (``interrupted``: cancelled by a shutdown).
MESSAGE_STATUS = {RunStatus.COMPLETED: "complete", RunStatus.REQUIRES_ACTION: "complete",
                  RunStatus.FAILED: "failed", RunStatus.INCOMPLETE: "failed", RunStatus.CANCELLED: "stopped",
                  RunStatus.IN_PROGRESS: "streaming"}


@dataclass
class RunState:
    run_id: str
    messages: list[ChatMessage]
    parts: list[BaseModel] = field(default_factory=list)
    status: RunStatus = RunStatus.IN_PROGRESS
    definition_tokens: int = 0  # the tools' definitions, as counted for every round's prompt
    history_tokens: int | None = None  # the prompt's messages and instructions so far (without definitions)
    ended_by: str | None = None  # "answer", "max_rounds", "budget", "user", "shutdown", "client_gone", "error"
    error: ev.ErrorInfo | None = None
    rounds: int = 0
    steps: int = 0  # steps saved so far (the next step's index)
    cost_micros: int = 0
    usage: dict[str, int] = field(default_factory=lambda: {
        "input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0})
    estimated: bool = False
    finish_reason: str | None = None
    started: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    saved: bool = False  # the run's row exists
    open_call: MeteredCall | None = None  # the latest model call, not settled yet
    open_round: ModelRound | None = None
    next_reservation: Reservation | None = None  # the next round's, made with the tool round's save
    next_call: tuple[ModelRequest, Any] | None = None  # the next round's request and call (EarlyCall), sent
    cost_doc: dict[str, Any] = field(default_factory=dict)  # the last model call's pricing (version, local...)
    reply_capped_to: int | None = None  # the smallest reply allowance a budget capped a round to

    # --- what happened -------------------------------------------------------------------------

    def add_round(self, model_round: ModelRound) -> None:
        """The round's hosted tool calls (they ran before its text), its text, then what the text cites."""
        self.rounds += 1
        self.parts.extend(model_round.hosted.parts.values())
        if model_round.text:
            self.parts.append(TextPart(text=model_round.text))
        if model_round.citations:
            cited = {part.url for part in self.parts if isinstance(part, CitationPart) and part.url}
            self.parts.extend(c for c in model_round.citations if not (c.url and c.url in cited))
        if self.first_token_at is None:
            self.first_token_at = model_round.first_token_at
        self.finish_reason = model_round.finish_reason or self.finish_reason

    def add_usage(self, usage: Usage | None, cost_micros: int) -> None:
        self.cost_micros += cost_micros
        if usage is None:
            return
        for name in self.usage:
            self.usage[name] += getattr(usage, name)
        self.estimated = self.estimated or usage.estimated

    def add_notice(self, code: str, message: str) -> None:
        self.parts.append(NoticePart(code=code, message=message))

    def end(self, status: RunStatus, ended_by: str, error: ev.ErrorInfo | None = None) -> None:
        self.status, self.ended_by, self.error = status, ended_by, error

    # --- views ---------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return "".join(part.text for part in self.parts if isinstance(part, TextPart))

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        return [part for part in self.parts if isinstance(part, ToolCallPart)]

    @property
    def has_usage(self) -> bool:
        return self.rounds > 0 and any(self.usage.values())

    def content(self) -> list[dict[str, Any]]:
        return [part.model_dump(mode="json") for part in self.parts]

    def usage_doc(self, extra: dict[str, Any]) -> dict[str, Any] | None:
        if not self.has_usage:
            return None
        doc = {**self.usage, "estimated": self.estimated, **self.cost_doc, "cost_micros": self.cost_micros, **extra}
        if self.tool_calls:  # a run with tools: its rounds and calls (the cost covers them all)
            doc |= {"rounds": self.rounds, "tool_calls": len(self.tool_calls)}
        if self.reply_capped_to is not None:  # "reply shortened to fit your budget"
            doc["reply_capped_to"] = self.reply_capped_to
        return doc

    def timing(self) -> dict[str, Any]:
        now = time.monotonic()
        return {"latency_ms": int((now - self.started) * 1000),
                "ttft_ms": int((self.first_token_at - self.started) * 1000) if self.first_token_at else None,
                "finish_reason": self.finish_reason}
