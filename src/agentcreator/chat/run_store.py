"""Saving a run as it goes: each finished step in one short transaction (the answer's parts so far,
the step's row, the usage of its model call), and the end of the run with the answer. No session is
open while the model streams or a tool works."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing, Reservation
from agentcreator.billing.meter import USEFUL_REPLY_TOKENS
from agentcreator.chat import events as ev
from agentcreator.chat.hosted_calls import HostedFees
from agentcreator.chat.model_step import ModelRound
from agentcreator.chat.run_state import MESSAGE_STATUS, RunState, RunStatus
from agentcreator.chat.tool_step import ToolStepContext, record_settlements
from agentcreator.core.errors import PaymentRequired
from agentcreator.db.session import transaction
from agentcreator.db.types import utcnow
from agentcreator.repositories import messages as message_repo
from agentcreator.repositories import runs as run_repo
from agentcreator.repositories import turns as turn_repo


class RunStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], billing: Billing) -> None:
        self._sessions = sessions
        self._billing = billing

    async def save_model_step(self, plan: Any, state: RunState, model_round: ModelRound) -> int:
        """The model call of a round that asked for tools, saved while its (slow) tools run: settle it,
        save the parts so far (the tool calls as ``running``), the run and the step. Returns its cost."""
        async with transaction(self._sessions) as session:
            cost = await self._model_step(session, plan, state, model_round)
            await self._save_answer(session, plan, state, "streaming")
            await self._save_run(session, plan, state)
        return cost

    async def _model_step(self, session: AsyncSession, plan: Any, state: RunState, model_round: ModelRound) -> int:
        cost = await self._record_open_call(session, plan, state)
        await self._add_step(session, state, "model_call", "completed", model_round.started_at,
                             model_round.finished_at, cost, {
                                 "round": model_round.index, "finish_reason": model_round.finish_reason,
                                 "usage": model_round.usage.model_dump() if model_round.usage else None,
                                 "tool_calls": [call.call_id for call in model_round.tool_calls]})
        return cost

    async def save_hosted_step(self, plan: Any, state: RunState, model_round: ModelRound, fees: HostedFees,
                               finished: float) -> int:
        """The calls the provider ran inside the round's model call (chat/hosted_calls), in one
        transaction: their fees (the round's hold settled), the answer so far, the run, and a
        ``tool_calls`` step marked ``hosted``. Returns what the fees came to."""
        hosted = model_round.hosted
        async with transaction(self._sessions) as session:
            cost = await fees.charge(session, state.open_call, hosted, message_id=plan.turn.assistant_message_id,
                                     run_id=state.run_id, step_index=state.steps)
            state.cost_micros += cost
            await self._save_answer(session, plan, state, "streaming")
            await self._save_run(session, plan, state)
            calls = list(hosted.parts.values())
            status = "cancelled" if any(p.status == "stopped" for p in calls) else "completed"
            await self._add_step(session, state, "tool_calls", status, min(hosted.started.values()), finished, cost, {
                "hosted": True, "calls": [{"call_id": p.call_id, "name": p.name, "status": p.status,
                                           "duration_ms": p.duration_ms, "cost_micros": p.cost_micros,
                                           "is_error": p.is_error} for p in calls]})
        return cost

    async def save_tool_round(self, plan: Any, state: RunState, model_round: ModelRound | None,
                              tools: ToolStepContext, started: float, finished: float, call_ids: list[str],
                              next_prompt_tokens: int | None, next_reply_tokens: int = 0,
                              ) -> tuple[int, Reservation | None]:
        """The end of a tool round in one transaction: the model step (unless saved while the tools ran:
        ``model_round`` None), the calls' fees, the tool step, and, when ``next_prompt_tokens`` is
        given, the next round's reservation (its reply capped to what the budgets leave, as any round's) (``None`` back when a budget refuses it: the run ends).
        Returns the model step's cost and the reservation."""
        reservation: Reservation | None = None
        async with transaction(self._sessions) as session:
            next_round = (next_prompt_tokens, len(state.text)) if next_prompt_tokens is not None else None
            cost = await self._tool_round(session, plan, state, model_round, tools, started, finished, call_ids,
                                          next_round)
            if next_prompt_tokens is not None:
                try:
                    async with session.begin_nested():  # a refusal rolls back the reservation only
                        reservation = await self._billing.reserve(
                            session, plan.target, prompt_tokens=next_prompt_tokens, max_output_tokens=next_reply_tokens,
                            run_id=state.run_id, min_output_tokens=USEFUL_REPLY_TOKENS)
                except PaymentRequired as exc:
                    state.end(RunStatus.INCOMPLETE, "budget", ev.ErrorInfo(
                        code=exc.code, message=f"The run stopped before round {state.rounds + 1}: {exc.message}"))
        return cost, reservation

    async def _tool_round(self, session: AsyncSession, plan: Any, state: RunState, model_round: ModelRound | None,
                          tools: ToolStepContext, started: float, finished: float, call_ids: list[str],
                          next_round: tuple[int, int] | None) -> int:
        model_cost = await self._model_step(session, plan, state, model_round) if model_round is not None else 0
        await record_settlements(session, tools, state.steps)
        calls = [part for part in state.tool_calls if part.call_id in call_ids]
        cost = sum(part.cost_micros for part in calls)
        state.cost_micros += cost
        await self._save_answer(session, plan, state, "streaming")
        await self._save_run(session, plan, state, next_round=next_round)  # what a sweep needs if this process dies
        status = "cancelled" if any(p.status == "stopped" for p in calls) else "completed"
        details: dict[str, Any] = {"calls": [
            {"call_id": p.call_id, "name": p.name, "status": p.status, "duration_ms": p.duration_ms,
             "cost_micros": p.cost_micros, "is_error": p.is_error,
             **({"cpu_seconds": p.cpu_seconds} if p.cpu_seconds is not None else {})} for p in calls]}
        measured = [p.cpu_seconds for p in calls if p.cpu_seconds is not None]
        if measured:  # the code interpreter's CPU time (issue 14: recorded on the step)
            details["cpu_seconds"] = round(sum(measured), 3)
        await self._add_step(session, state, "tool_calls", status, started, finished, cost, details)
        return model_cost

    async def finish(self, plan: Any, state: RunState, message_status: str) -> ev.MessageSnapshot | None:
        """Save the answer, its usage and the run's end in one transaction; None when the answer is gone
        (its conversation was deleted meanwhile: the usage is recorded all the same)."""
        async with transaction(self._sessions) as session:
            await self._record_open_call(session, plan, state)
            fields = await self._save_answer(session, plan, state, message_status)
            saved = fields is not None
            if saved:
                await self._save_run(session, plan, state, finished=True)
        if not saved:
            return None
        return ev.MessageSnapshot.model_validate({**plan.placeholder.model_dump(), **fields})

    async def checkpoint(self, plan: Any, state: RunState, partial: str) -> None:
        """The answer's text so far (the finished rounds' and the open round's ``partial``): one UPDATE
        of the answer's text, only while it is streaming (chat/checkpoints). Its parts are saved with
        each finished step; a sweep adds the open round's text part (chat/leases)."""
        async with transaction(self._sessions) as session:
            await turn_repo.checkpoint_answer(session, plan.turn.assistant_message_id, text=state.text + partial)

    async def note_round(self, state: RunState, *, prompt_tokens: int) -> None:
        """A later round's model call opens: what a sweep needs to estimate it if this process dies."""
        async with transaction(self._sessions) as session:
            await run_repo.note_round(session, state.run_id, prompt_tokens=prompt_tokens, open_from=len(state.text))

    # --- the parts -----------------------------------------------------------------------------

    async def _record_open_call(self, session: AsyncSession, plan: Any, state: RunState) -> int:
        call, model_round = state.open_call, state.open_round
        if call is None or model_round is None:
            return 0
        cost = await self._billing.cost_of(session, plan.target, model_round.usage)
        await call.record(session, kind="chat", usage=model_round.usage, cost=cost,
                          message_id=plan.turn.assistant_message_id, run_id=state.run_id, step_index=state.steps)
        state.add_usage(model_round.usage, cost.micros)
        state.cost_doc = {key: value for key, value in cost.doc().items() if key != "cost_micros"}
        state.open_call = state.open_round = None
        return cost.micros

    async def _save_answer(self, session: AsyncSession, plan: Any, state: RunState,
                           status: str) -> dict[str, Any] | None:
        error = state.error.model_dump() if state.error else None
        fields = {"text": state.text, "content": state.content(), "status": status, "error": error,
                  "usage": state.usage_doc(state.timing()), "cost_micros": state.cost_micros,
                  "updated_at": utcnow()}
        # Lock order everywhere: conversation and message rows, then the budget ledger (no deadlocks).
        if not await message_repo.save_answer(session, plan.turn.assistant_message_id, fields):
            return None
        return fields

    async def _save_run(self, session: AsyncSession, plan: Any, state: RunState, *, finished: bool = False,
                        next_round: tuple[int, int] | None = None) -> None:
        error = state.error.model_dump() if state.error else None
        if state.saved:
            await run_repo.update_run(session, state.run_id, status=state.status.value, rounds=state.rounds,
                                      cost_micros=state.cost_micros, ended_by=state.ended_by, error=error,
                                      finished=finished, next_round=next_round)
            return
        await run_repo.insert_run(session, run_id=state.run_id, owner_id=plan.owner_id,
                                  conversation_id=plan.conversation_id, message_id=plan.turn.assistant_message_id,
                                  assistant_id=plan.assistant_id, model=plan.model_ref, status=state.status.value,
                                  rounds=state.rounds, cost_micros=state.cost_micros, ended_by=state.ended_by,
                                  error=error, finished=finished)
        state.saved = True

    async def _add_step(self, session: AsyncSession, state: RunState, kind: str, status: str, started: float,
                        finished: float | None, cost: int, details: dict[str, Any]) -> None:
        await run_repo.add_step(session, run_id=state.run_id, index=state.steps, kind=kind, status=status,
                                details=details, cost_micros=cost, started_at=_wall(started),
                                finished_at=_wall(finished))
        state.steps += 1


def _wall(monotonic: float | None) -> datetime:
    """A ``time.monotonic()`` reading as a UTC wall-clock time (now when None)."""
    import time

    now = datetime.now(UTC)
    if monotonic is None:
        return now
    return now - timedelta(seconds=max(0.0, time.monotonic() - monotonic))


def message_status(state: RunState, stop_reason: str | None) -> str:
    if state.status is RunStatus.CANCELLED and stop_reason == "shutdown":
        return "interrupted"
    return MESSAGE_STATUS[state.status]
