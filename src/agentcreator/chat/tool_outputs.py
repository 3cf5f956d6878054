"""Client-side functions: a run paused in ``requires_action`` continues with the caller's outputs.

A function without an endpoint is run by the API caller: the run saves its answer with the call's
part in ``requires_action`` and ends there (chat/run_loop). The caller then submits one output per
pending call, and the run goes on as a turn of its own (chat/service ``submit_tool_outputs``): the
same answer and run, the next model round with the outputs as the calls' results, streamed like any
turn. This module holds what needs no service state: reading the paused run (404 for another user's,
409 when it waits for nothing or the conversation went on after it, 422 when the outputs do not match
the pending calls; nothing is changed on any of these), and reopening it in the start transaction.

Outputs are untrusted: the schema caps each one (``MAX_SUBMITTED_OUTPUT_CHARS``), and what the model
reads is cut like a server tool's result (``chat.tool_output_max_chars``, with a note).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.chat.parts import MessageParts, ToolCallPart
from agentcreator.chat.run_state import RunState, RunStatus
from agentcreator.core.errors import Conflict, NotFound, ValidationFailed
from agentcreator.db.models import Run
from agentcreator.llm.types import ChatMessage
from agentcreator.repositories import messages as message_repo
from agentcreator.repositories import runs as run_repo
from agentcreator.repositories import turns as turn_repo
from agentcreator.repositories.messages import NewMessage

MAX_SUBMITTED_OUTPUT_CHARS = 200_000  # refused above (422); the model reads at most chat.tool_output_max_chars
MAX_SUBMITTED_OUTPUTS = 128


@dataclass(frozen=True)
class ToolOutput:
    call_id: str
    output: str


@dataclass
class PausedRun:
    """A run waiting for its client-side calls, with the caller's outputs filled in (nothing saved yet)."""

    run_id: str
    question: Any  # the user message the answer replies to
    history: NewMessage  # the answer as the model reads it next (the outputs in; not streaming)
    answer: NewMessage  # the answer as saved when the run continues (streaming)
    parts: list[Any]  # the answer's parts, typed
    rounds: int
    steps: int
    cost_micros: int
    submitted: list[str]  # the call ids answered

    def state(self, messages: list[ChatMessage]) -> RunState:
        """The run's state to go on from, ``messages`` being the continued request's."""
        state = RunState(run_id=self.run_id, messages=list(messages), parts=list(self.parts), rounds=self.rounds,
                         steps=self.steps, cost_micros=self.cost_micros, saved=True, started=time.monotonic())
        usage = self.answer.usage or {}
        for name in state.usage:
            state.usage[name] = int(usage.get(name) or 0)
        state.estimated = bool(usage.get("estimated"))
        return state


async def load_paused(session: AsyncSession, user_id: str, conversation: Any, rows: list[Any], run_id: str,
                      outputs: list[ToolOutput], *, max_chars: int, now: datetime) -> PausedRun:
    """The run ``run_id`` of ``conversation`` (read by the caller, owner-scoped; ``rows``: its
    messages) with ``outputs`` checked against its pending calls and filled in."""
    run = await run_repo.owned_run(session, user_id, run_id) if 0 < len(run_id) <= 64 else None
    if run is None or run.conversation_id != conversation.id:
        raise NotFound("Run")
    if run.status != RunStatus.REQUIRES_ACTION:
        raise Conflict(f"This run is not waiting for tool outputs (it is {run.status}).", code="run_not_waiting",
                       details={"status": run.status})
    shown = turn_repo.branch_to(rows, conversation.active_leaf_id)
    if not shown or shown[-1].id != run.message_id:
        raise Conflict("The conversation went on after this run (or shows another version of its answer); "
                       "it can no longer be continued.", code="run_superseded")
    message = await turn_repo.get_message(session, conversation.id, run.message_id)
    if message is None or len(shown) < 2:
        raise NotFound("Run")
    parts = MessageParts.validate_python(message.content or [])
    pending = [p for p in parts if isinstance(p, ToolCallPart) and p.status == "requires_action"]
    given = check_outputs([p.call_id for p in pending], outputs)
    for part in pending:
        _fill(part, given[part.call_id], max_chars)
    content = [part.model_dump(mode="json") for part in parts]
    columns = {name: getattr(message, name) for name in NewMessage.__annotations__}
    history = NewMessage(**(columns | {"content": content, "status": "complete", "updated_at": now}))
    answer = NewMessage(**(columns | {"content": content, "status": "streaming", "error": None, "updated_at": now}))
    return PausedRun(run_id=run.id, question=shown[-2], history=history, answer=answer, parts=parts,
                     rounds=run.rounds, steps=await run_repo.count_steps(session, run.id),
                     cost_micros=run.cost_micros, submitted=[p.call_id for p in pending])


def check_outputs(pending: list[str], outputs: list[ToolOutput]) -> dict[str, str]:
    """Each pending call's output; 422 unless every pending call gets exactly one and no other is given."""
    counts = Counter(output.call_id for output in outputs)
    duplicate = sorted(call_id for call_id, count in counts.items() if count > 1)
    unknown = sorted(set(counts) - set(pending))
    missing = [call_id for call_id in pending if call_id not in counts]
    problems = []
    if missing:
        problems.append(f"no output for {_ids(missing)}")
    if unknown:
        problems.append(f"{_ids(unknown)} {'is' if len(unknown) == 1 else 'are'} not waiting for an output")
    if duplicate:
        problems.append(f"more than one output for {_ids(duplicate)}")
    if problems:
        raise ValidationFailed(f"Submit exactly one output for each pending tool call: {'; '.join(problems)}.",
                               code="tool_outputs_mismatch",
                               details={"pending": pending, "missing": missing, "unknown": unknown,
                                        "duplicate": duplicate})
    return {output.call_id: output.output for output in outputs}


def _ids(call_ids: list[str]) -> str:
    shown = ", ".join(repr(call_id[:80]) for call_id in call_ids[:5])
    return shown + (f" and {len(call_ids) - 5} more" if len(call_ids) > 5 else "")


def _fill(part: ToolCallPart, output: str, max_chars: int) -> None:
    if len(output) > max_chars:
        output = output[:max_chars] + f"\n[cut: the result was {len(output)} characters; first {max_chars} shown]"
    part.output, part.is_error, part.status = output, False, "complete"


async def reopen(session: AsyncSession, paused: PausedRun, *, worker_id: str | None, turn_id: str,
                 prompt_tokens: int) -> None:
    """In the continued turn's start transaction (the conversation claimed): save the outputs into the
    answer (streaming again), take the run back to ``in_progress`` for this process (its lease:
    chat/leases) and mark the calls answered in their tool step. 409 when another submission won."""
    answer = paused.answer
    await message_repo.save_answer(session, answer.id, {
        "text": answer.text, "content": answer.content, "status": "streaming", "error": None,
        "usage": answer.usage, "cost_micros": answer.cost_micros, "updated_at": answer.updated_at})
    result = await session.execute(
        update(Run).where(Run.id == paused.run_id, Run.status == RunStatus.REQUIRES_ACTION)
        .values(status=RunStatus.IN_PROGRESS.value, ended_by=None, error=None, finished_at=None,
                worker_id=worker_id, turn_id=turn_id, prompt_tokens=prompt_tokens, open_from=len(answer.text),
                updated_at=answer.updated_at))
    if int(result.rowcount or 0) != 1:  # type: ignore[attr-defined]
        raise Conflict("This run is not waiting for tool outputs any more.", code="run_not_waiting")
    submitted = set(paused.submitted)
    for step in await run_repo.steps_of(session, paused.run_id):
        calls = (step.details or {}).get("calls") if step.kind == "tool_calls" else None
        if calls and any(call.get("call_id") in submitted for call in calls):
            step.details = {**step.details, "calls": [
                call | {"status": "complete", "is_error": False, "submitted": True}
                if call.get("call_id") in submitted else call for call in calls]}
    await session.flush()


__all__ = ["MAX_SUBMITTED_OUTPUTS", "MAX_SUBMITTED_OUTPUT_CHARS", "PausedRun", "ToolOutput", "check_outputs",
           "load_paused", "reopen"]
