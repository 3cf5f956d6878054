"""One chat turn, after its messages are saved: stream the model, fan events out through the bus,
then persist the answer and its usage in one new transaction. No DB session is open while the
model streams. Stop, client gone and shutdown cancel the task; what was produced is kept."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing, CallTarget, Reservation, usage_doc
from agentcreator.chat import events as ev
from agentcreator.chat.bus import EventBus
from agentcreator.chat.early_call import EarlyCall
from agentcreator.chat.turns import RunningTurn, TurnRegistry
from agentcreator.core.errors import AppError
from agentcreator.db.session import transaction
from agentcreator.db.types import utcnow
from agentcreator.llm.base import ModelProvider, OpenedStream
from agentcreator.llm.types import ModelRequest, Usage
from agentcreator.repositories import messages as message_repo

log = logging.getLogger(__name__)


@dataclass
class TurnPlan:
    """Everything a turn needs, loaded before the model is called."""

    turn: RunningTurn
    owner_id: str
    assistant_id: str | None
    conversation_id: str
    model_ref: str  # "provider/model"
    provider: ModelProvider
    request: ModelRequest
    context_report: dict[str, Any]
    target: CallTarget  # who pays and for which model, for the meter
    placeholder: ev.MessageSnapshot  # the answer as saved when the turn started
    reservation: Reservation | None = None  # what the budgets hold for this call until it settles
    generate_title_from: str | None = None  # first user text, when the conversation needs a title
    summarize_dropped: bool = False  # the assistant keeps a summary of what falls out of the window
    early: EarlyCall | None = None  # the model call, when it started while the turn was saved
    opened: OpenedStream | None = None  # the model call, when the turn's start sent it after the save


@dataclass(frozen=True)
class RelayPace:
    """While more than ``above_turns`` turns run in this process, relay at most every ``seconds``,
    growing with the load up to twice that at twice as many turns (settings
    ``chat.relay_pace_above_turns`` / ``chat.relay_pace_ms``; ``seconds`` 0: never). At 200 streams
    80 ms instead of 40 ms took the server's CPU from 74-83 % to 65-73 % of a core."""

    above_turns: int = 32
    seconds: float = 0.0

    def wait(self, running_turns: int) -> float:
        if not self.seconds or running_turns <= self.above_turns:
            return 0.0
        if not self.above_turns:
            return self.seconds
        return self.seconds * min(2.0, running_turns / self.above_turns)


@dataclass
class TurnOutcome:
    text: str
    status: str  # complete | stopped | failed | interrupted
    error: ev.ErrorInfo | None
    usage: Usage | None
    finish_reason: str | None
    latency_ms: int
    ttft_ms: int | None


class TurnRunner:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, turns: TurnRegistry,
                 billing: Billing, title_writer: Any = None, window_summarizer: Any = None,
                 pace: RelayPace | None = None) -> None:
        self._sessions = sessions
        self._pace = pace or RelayPace()
        self._billing = billing
        self._bus = bus
        self._turns = turns
        self._title_writer = title_writer
        self._window_summarizer = window_summarizer

    async def run(self, plan: TurnPlan) -> None:
        turn = plan.turn
        turn.started = True
        try:
            outcome = await self._stream(plan)
            snapshot = await _finish_even_if_cancelled(self._persist(plan, outcome))
        finally:
            self._turns.release(turn)
            turn.finished.set()
        if snapshot is None:  # the conversation was deleted while the answer streamed
            await self._bus.close(plan.conversation_id, turn.turn_id)
            return
        terminal: ev.TurnCompleted | ev.TurnStopped | ev.TurnFailed
        if outcome.status == "complete":
            terminal = ev.TurnCompleted(message=snapshot)
        elif outcome.error is not None:
            terminal = ev.TurnFailed(message=snapshot, error=outcome.error)
        else:
            terminal = ev.TurnStopped(message=snapshot)
        await self._bus.publish(plan.conversation_id, ev.to_wire(terminal))
        try:
            if plan.generate_title_from and self._title_writer is not None and outcome.status == "complete":
                await self._title_writer(plan)
            if plan.summarize_dropped and self._window_summarizer is not None and outcome.status == "complete":
                await self._window_summarizer(plan)
        finally:
            await self._bus.close(plan.conversation_id, turn.turn_id)

    async def _stream(self, plan: TurnPlan) -> TurnOutcome:
        message_id = plan.turn.assistant_message_id
        started = time.monotonic()
        first_token: float | None = None
        parts: list[str] = []
        usage: Usage | None = None
        finish_reason: str | None = None
        error: ev.ErrorInfo | None = None
        status = "complete"
        if plan.turn.stop_reason is not None:  # stopped before the runner began: the model is not called
            for call in (plan.early, plan.opened):  # (or, called already, is closed before any event is used)
                if call is not None:
                    await call.aclose()
            return TurnOutcome(text="", status="interrupted" if plan.turn.stop_reason == "shutdown" else "stopped",
                               error=None, usage=None, finish_reason=None, latency_ms=0, ttft_ms=None)
        stream = plan.early or plan.opened or plan.provider.stream(plan.request)
        try:
            async for event in stream:
                if event.type == "text_delta":
                    if first_token is None:
                        first_token = time.monotonic()
                    parts.append(event.text)
                    await self._bus.publish(plan.conversation_id, {
                        "type": "text_delta", "message_id": message_id, "text": event.text})
                    pause = self._pace.wait(len(self._turns))
                    if pause:  # what arrives meanwhile waits in the socket and comes as one delta
                        await asyncio.sleep(pause)
                elif event.type == "queued":
                    await self._bus.publish(plan.conversation_id, ev.to_wire(
                        ev.Queued(message_id=message_id, position=event.position)))
                elif event.type == "usage":
                    usage = event.usage
                elif event.type == "completed":
                    finish_reason = event.finish_reason
                    usage = event.usage or usage
                elif event.type == "failed":
                    error = ev.ErrorInfo(code=event.error.code, message=event.error.message,
                                         retryable=event.error.retryable)
                    status = "failed"
                    break
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            status = "interrupted" if plan.turn.stop_reason == "shutdown" else "stopped"
        except AppError as exc:
            error, status = ev.ErrorInfo(code=exc.code, message=exc.message), "failed"
        except Exception as exc:
            log.exception("turn %s failed unexpectedly", plan.turn.turn_id)
            error = ev.ErrorInfo(code="internal_error", message=f"The answer failed: {type(exc).__name__}")
            status = "failed"
        finally:
            try:
                await stream.aclose()  # type: ignore[attr-defined]
            except Exception:
                log.warning("closing the model stream of turn %s failed", plan.turn.turn_id, exc_info=True)
        text = "".join(parts)
        if usage is None and (text or status == "complete"):
            usage = self._estimate_usage(plan, text)
        return TurnOutcome(
            text=text, status=status, error=error, usage=usage, finish_reason=finish_reason,
            latency_ms=int((time.monotonic() - started) * 1000),
            ttft_ms=int((first_token - started) * 1000) if first_token is not None else None,
        )

    def _estimate_usage(self, plan: TurnPlan, text: str) -> Usage:
        from agentcreator.llm.types import ChatMessage

        prompt = plan.provider.count_tokens(plan.request.model, plan.request.messages, plan.request.instructions)
        output = plan.provider.count_tokens(plan.request.model, [ChatMessage.assistant(text)], "") if text else 0
        return Usage(input_tokens=prompt, output_tokens=output, estimated=True)

    async def _persist(self, plan: TurnPlan, outcome: TurnOutcome) -> ev.MessageSnapshot | None:
        """Save the answer, its usage record and cost, and settle the budget reservation, in one
        transaction. Usage is recorded even when the conversation was deleted meanwhile."""
        async with transaction(self._sessions) as session:
            cost = await self._billing.cost_of(session, plan.target, outcome.usage)
            usage = usage_doc(outcome.usage, cost, {
                "latency_ms": outcome.latency_ms, "ttft_ms": outcome.ttft_ms,
                "finish_reason": outcome.finish_reason}) if outcome.usage is not None else None
            fields = {"text": outcome.text,
                      "content": [{"type": "text", "text": outcome.text}] if outcome.text else [],
                      "status": outcome.status, "error": outcome.error.model_dump() if outcome.error else None,
                      "usage": usage, "cost_micros": cost.micros, "updated_at": utcnow()}
            # Lock order everywhere: conversation and message rows, then the budget ledger (no deadlocks).
            saved = await message_repo.save_answer(session, plan.turn.assistant_message_id, fields)
            await self._billing.record(session, plan.target, plan.reservation, kind="chat", usage=outcome.usage,
                                       message_id=plan.turn.assistant_message_id if saved else None, cost=cost)
        if not saved:
            return None
        return plan.placeholder.model_copy(update=fields)


async def _finish_even_if_cancelled(coro: Any) -> Any:
    """Run ``coro`` to the end even if this task is cancelled meanwhile (persisting must not be lost)."""
    task = asyncio.ensure_future(coro)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                return task.result()
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
