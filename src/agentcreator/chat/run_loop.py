"""The run loop: a turn is a run of steps until the answer.

Each round is a model step, and what the model did says what happens next (the step kinds live in
their own modules): an answer ends the run; tool calls are run (``chat/tool_step``), their results
appended, and the loop goes round again; a client-side function pauses the run (``requires_action``).
The loop ends on the answer, the round limit (the last round is sent with ``tool_choice: none`` so the
run ends with an answer), the user's stop (its task is cancelled), or a budget refusing the next call.

Every model call is metered (reserved before, settled after: ``billing/metered``); the first round uses
the reservation the turn's start made, so a plain turn costs what it did before runs existed. Each
finished step is saved (``chat/run_store``), so a reload mid-run shows the steps so far.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing
from agentcreator.billing.meter import USEFUL_REPLY_TOKENS
from agentcreator.billing.metered import MeteredCall
from agentcreator.chat import events as ev
from agentcreator.chat.bus import EventBus
from agentcreator.chat.checkpoints import Checkpointer
from agentcreator.chat.early_call import EarlyCall
from agentcreator.chat.hosted_calls import HostedFees
from agentcreator.chat.model_step import ModelRound, paced, run_model_step
from agentcreator.chat.parts import NO_RESULT_OUTPUT, CitationPart, ToolCallPart
from agentcreator.chat.round_request import round_request
from agentcreator.chat.run_state import RunState, RunStatus
from agentcreator.chat.run_store import RunStore, message_status
from agentcreator.chat.tool_step import ToolStepContext, release_unsettled, run_tool_calls
from agentcreator.core.errors import PaymentRequired
from agentcreator.db.session import session_scope
from agentcreator.llm.types import ChatMessage, ModelRequest, StreamEvent, Usage
from agentcreator.tools import ToolContext, ToolSet

log = logging.getLogger(__name__)


class RunLoop:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], billing: Billing, bus: EventBus, *, max_rounds: int,
                 pace_wait: Callable[[], float], tool_output_max_chars: int = 20_000,
                 checkpoint_seconds: float | Callable[[], float] = 1.0, checkpoint_tokens: int = 16,
                 fold_seconds: float = 0.5, checkpoint_defer: Callable[[], bool] | None = None) -> None:
        self._checkpoint_defer = checkpoint_defer
        self._fold_seconds = fold_seconds  # tools done by then: their round is saved in one transaction
        self._checkpoint_seconds = checkpoint_seconds
        self._checkpoint_tokens = checkpoint_tokens
        self._sessions = sessions
        self._store = RunStore(sessions, billing)
        self._billing = billing
        self._bus = bus
        self._max_rounds = max_rounds
        self._pace_wait = pace_wait
        self._tool_output_max_chars = tool_output_max_chars

    async def run(self, plan: Any, toolset: ToolSet) -> tuple[RunState, ev.MessageSnapshot | None]:
        """Run to the end and save it; returns the state and the saved answer (None: it was deleted)."""
        # The run's row was written with the turn's start (chat/service), with its owner's lease; a run
        # paused in requires_action goes on from its state (chat/tool_outputs).
        state: RunState = plan.resumed or RunState(run_id=plan.run_id, messages=list(plan.request.messages),
                                                   saved=True)
        state.parts.extend(CitationPart.model_validate(citation) for citation in plan.citations)
        if (toolset.skipped or plan.tools_unavailable) and plan.resumed is None:
            self._note_unavailable(state, plan, toolset)
        rounds_before = state.rounds
        try:
            await self._rounds(plan, toolset, state)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            state.end(RunStatus.CANCELLED, plan.turn.stop_reason or "user")
        except Exception as exc:
            log.exception("run %s failed unexpectedly", state.run_id)
            state.end(RunStatus.FAILED, "error", ev.ErrorInfo(
                code="internal_error", message=f"The answer failed: {type(exc).__name__}"))
        finally:
            first = plan.first_call
            if first is not None and state.rounds == rounds_before:  # opened before the run and never read
                await asyncio.shield(first.aclose())
        if state.status is RunStatus.IN_PROGRESS:
            state.end(RunStatus.FAILED, "error", ev.ErrorInfo(code="internal_error", message="The run ended early."))
        if state.open_round is not None and state.open_round.usage is None and state.open_round.text:
            state.open_round.usage = self._estimate(plan, state.open_round)
        for part in state.tool_calls:  # every call gets a result, also in the history the model reads next
            if part.status == "running":
                part.status, part.output, part.is_error = "stopped", NO_RESULT_OUTPUT, True
        try:
            snapshot = await _finish_even_if_cancelled(
                self._store.finish(plan, state, message_status(state, plan.turn.stop_reason)))
        finally:
            if state.open_call is not None:
                await asyncio.shield(state.open_call.release())
            if state.next_reservation is not None:  # made for a round that was never called
                await asyncio.shield(self._billing.release(state.next_reservation))
            if state.next_call is not None:  # sent for a round that never read it
                await asyncio.shield(state.next_call[1].aclose())
        return state, snapshot

    async def _rounds(self, plan: Any, toolset: ToolSet, state: RunState) -> None:
        if plan.turn.stop_reason is not None:  # stopped before the runner began: the model is not called
            state.end(RunStatus.CANCELLED, plan.turn.stop_reason)
            return
        definitions = toolset.definitions()
        state.definition_tokens = _definition_tokens(plan, definitions)  # counted once per run
        first = min(state.rounds, self._max_rounds - 1)  # a continued run counts on from its rounds
        for index in range(first, self._max_rounds):
            last = index == self._max_rounds - 1
            opened, state.next_call = state.next_call, None  # sent with the previous round's save
            request = opened[0] if opened else self._round_request(plan, toolset, state, index, definitions,
                                                                   first=index == first)
            call = await self._open_call(plan, state, request, index, first=index == first)
            if call is None:
                if opened:
                    await opened[1].aclose()
                return
            state.open_call = call
            capped = call.reservation.capped_output_tokens if call.reservation is not None else None
            if capped is not None:  # the budgets cover only this much of the reply (billing/meter)
                request = request.model_copy(update={"max_output_tokens": capped})
                state.reply_capped_to = min(capped, state.reply_capped_to or capped)
            stream: AsyncIterator[StreamEvent] = plan.first_call if index == first and plan.first_call else \
                opened[1] if opened else plan.provider.stream(request)
            checkpoints = self._checkpointer(plan, state)
            try:
                model_round = await run_model_step(paced(stream, self._pace_wait), self._bus_publisher(plan),
                                                   message_id=plan.turn.assistant_message_id, index=index,
                                                   on_text=checkpoints.delta)
            finally:
                await checkpoints.aclose()
            state.open_round = model_round
            state.add_round(model_round)
            if model_round.usage is None and (model_round.text or model_round.tool_calls or model_round.ended_normally):
                model_round.usage = self._estimate(plan, model_round, request)
            if model_round.hosted:  # the provider ran tools inside the call: charged and saved as a step
                await _finish_even_if_cancelled(self._hosted_step(plan, state, model_round))
            if model_round.stopped:
                state.end(RunStatus.CANCELLED, plan.turn.stop_reason or "user")
                return
            if model_round.error is not None:
                state.end(RunStatus.FAILED, "error", model_round.error)
                return
            if not model_round.tool_calls or not definitions:
                state.end(RunStatus.COMPLETED, "max_rounds" if last and index else "answer")
                return
            if last:  # it called tools though told not to: its text is the answer
                state.end(RunStatus.COMPLETED, "max_rounds")
                return
            await self._tool_round(plan, toolset, state, model_round, definitions)
            if state.status is not RunStatus.IN_PROGRESS:
                return
            if plan.turn.stop_reason is not None:  # a stop that came while the round was saved (not lost)
                state.end(RunStatus.CANCELLED, plan.turn.stop_reason)
                return

    def _round_request(self, plan: Any, toolset: ToolSet, state: RunState, index: int, definitions: list[Any], *,
                       first: bool) -> ModelRequest:
        return round_request(plan.request, toolset, state.messages, definitions, index=index,
                             max_rounds=self._max_rounds, first=first, full_reply=_full_reply(plan, plan.request))

    async def _may_refuse(self, plan: Any) -> bool:
        """Whether a budget this run's calls count against has a limit (billing.may_refuse: cached), from
        the owner's overrides as read at the turn's start when the defaults' copy is fresh. An override
        an administrator sets during the run counts from the next reservation (made with each round's
        save, from a fresh read): at most the call sent with that save goes out before it."""
        overrides = plan.budget_overrides
        if overrides is not None:
            known = self._billing.may_refuse_cached(plan.target, overrides)
            if known is not None:
                return known
        async with session_scope(self._sessions) as session:
            return await self._billing.may_refuse(session, plan.target, user_overrides=overrides)

    async def _open_call(self, plan: Any, state: RunState, request: ModelRequest, index: int, *,
                         first: bool) -> MeteredCall | None:
        """The round's metered call: the turn's reservation for the first (topped up for the tool
        definitions), a new one for the next; None when a budget refuses it (the run ends there)."""
        definition_tokens = state.definition_tokens
        try:
            if first:
                call = MeteredCall(self._billing, plan.target, plan.reservation, run_id=state.run_id)
                if definition_tokens and not request.hosted_tools and not await self._may_refuse(plan):
                    return call  # nothing can refuse it: the definitions are settled with the call's usage
                try:
                    await call.top_up(prompt_tokens=definition_tokens)
                except PaymentRequired:  # no room for the definitions too: the round is reserved anew below,
                    await call.release()  # its reply capped to what is left
                else:
                    return await self._hold_hosted_fees(plan, call, request)
                reservation = None
            else:
                reservation, state.next_reservation = state.next_reservation, None
            if reservation is None:  # not made with the previous round's save (chat/run_store)
                prompt = plan.provider.count_tokens(request.model, request.messages, request.instructions)
                reservation = await self._billing.reserve_now(
                    plan.target, prompt_tokens=prompt + definition_tokens, max_output_tokens=_full_reply(plan, request),
                    run_id=state.run_id, min_output_tokens=USEFUL_REPLY_TOKENS)
                if not first:
                    await self._store.note_round(state, prompt_tokens=prompt + definition_tokens)
            return await self._hold_hosted_fees(plan, MeteredCall(self._billing, plan.target, reservation,
                                                                  run_id=state.run_id), request)
        except PaymentRequired as exc:
            state.end(RunStatus.INCOMPLETE, "budget", ev.ErrorInfo(
                code=exc.code, message=f"The run stopped before round {index + 1}: {exc.message}"))
            return None

    async def _tool_round(self, plan: Any, toolset: ToolSet, state: RunState, model_round: ModelRound,
                          definitions: list[Any]) -> None:
        """Run the round's tool calls, then save the round and reserve the next model call in one
        transaction. The model step is saved on its own first only if the tools are still working
        after ``fold_seconds`` (a reload then shows the calls running)."""
        parts = [ToolCallPart(call_id=c.call_id, name=c.name, arguments=c.arguments, round=model_round.index)
                 for c in model_round.tool_calls]
        state.parts.extend(parts)
        context = ToolStepContext(
            sessions=self._sessions, billing=self._billing, target=plan.target, toolset=toolset,
            tool_context=ToolContext(user_id=plan.owner_id, conversation_id=plan.conversation_id,
                                     assistant_id=plan.assistant_id, run_id=state.run_id),
            publish=self._bus_publisher(plan), message_id=plan.turn.assistant_message_id, run_id=state.run_id,
            max_output_chars=self._tool_output_max_chars)
        started = time.monotonic()
        unsaved: ModelRound | None = model_round
        model_step = state.steps  # the model call's step; the tool calls' is the next
        tools = asyncio.ensure_future(run_tool_calls(context, parts, step_index=model_step + 1))
        try:
            done, _ = await asyncio.wait({tools}, timeout=self._fold_seconds)
            if not done:
                cost = await _finish_even_if_cancelled(self._store.save_model_step(plan, state, model_round))
                unsaved = None
                await self._step_finished(plan, state, model_step, "model_call", cost, model_round.usage)
                if plan.turn.stop_reason is not None:  # a stop that came while it was saved (not lost)
                    raise asyncio.CancelledError
            await tools
        except asyncio.CancelledError:
            tools.cancel()
            await asyncio.gather(tools, return_exceptions=True)
            raise
        finally:  # stopped too: what the calls did so far is saved
            finished = time.monotonic()
            going_on = not tools.cancelled() and tools.exception() is None if tools.done() else False
            paused = any(part.status == "requires_action" for part in parts)
            added = [ChatMessage.assistant(model_round.text, model_round.tool_calls),
                     *(ChatMessage.tool(part.call_id, part.output or NO_RESULT_OUTPUT) for part in parts)]
            next_prompt = self._next_prompt_tokens(plan, state, added) if going_on and not paused else None
            state.messages.extend(added)
            if next_prompt is not None and not toolset.hosted and not await self._may_refuse(plan):
                # Nothing can refuse the next call: it goes out now, and the round is saved (and the call
                # reserved) while the model works on its first token (as a turn's early call).
                request = self._round_request(plan, toolset, state, model_round.index + 1, definitions, first=False)
                state.next_call = (request, await EarlyCall.start(plan.provider, request))
            try:
                cost, state.next_reservation = await _finish_even_if_cancelled(self._store.save_tool_round(
                    plan, state, unsaved, context, started, finished, [part.call_id for part in parts], next_prompt,
                    _full_reply(plan, plan.request)))
            finally:
                await asyncio.shield(release_unsettled(context))
            if unsaved is not None:
                await self._step_finished(plan, state, model_step, "model_call", cost, model_round.usage)
        await self._step_finished(plan, state, model_step + 1, "tool_calls", sum(part.cost_micros for part in parts),
                                  None)
        if paused:
            state.end(RunStatus.REQUIRES_ACTION, "requires_action")

    def _hosted_fees(self, plan: Any) -> HostedFees:
        return HostedFees(self._sessions, self._billing, plan.target, plan.provider.name)

    async def _hold_hosted_fees(self, plan: Any, call: MeteredCall, request: ModelRequest) -> MeteredCall:
        """The round's call, holding its hosted calls' fees too (PaymentRequired: released, refused)."""
        await self._hosted_fees(plan).hold(call, request)
        return call

    async def _hosted_step(self, plan: Any, state: RunState, model_round: ModelRound) -> None:
        """The calls the provider ran inside the model call: charged and saved as a tool step, before
        the model step, as OpenAI orders run steps (the calls, then the message)."""
        cost = await self._store.save_hosted_step(plan, state, model_round, self._hosted_fees(plan), time.monotonic())
        await self._step_finished(plan, state, state.steps - 1, "tool_calls", cost, None)
        if plan.turn.stop_reason is not None:  # a stop that came while the calls were saved (not lost)
            model_round.stopped = True

    def _next_prompt_tokens(self, plan: Any, state: RunState, added: list[ChatMessage]) -> int:
        """The next round's prompt: the messages so far (counted once per run: the turn's quote counted
        the first round's, or they are counted here) and the round's ``added``, with the definitions."""
        model, instructions = plan.request.model, plan.request.instructions
        if state.history_tokens is None:
            state.history_tokens = plan.prompt_tokens or plan.provider.count_tokens(model, state.messages, instructions)
        state.history_tokens += plan.provider.count_tokens(model, added, "") - plan.provider.count_tokens(model, [], "")
        return state.history_tokens + state.definition_tokens

    async def _step_finished(self, plan: Any, state: RunState, index: int, kind: str, cost: int,
                             usage: Usage | None) -> None:
        await self._bus.publish(plan.conversation_id, ev.to_wire(ev.StepFinished(
            message_id=plan.turn.assistant_message_id, run_id=state.run_id, index=index,
            kind=kind, cost_micros=cost, usage=usage.model_dump() if usage else None)))  # type: ignore[arg-type]

    def _checkpointer(self, plan: Any, state: RunState) -> Checkpointer:
        async def save(partial: str) -> None:
            await self._store.checkpoint(plan, state, partial)
        return Checkpointer(save, seconds=self._checkpoint_seconds, tokens=self._checkpoint_tokens,
                            defer=self._checkpoint_defer)

    def _bus_publisher(self, plan: Any) -> Any:
        conversation_id = plan.conversation_id

        async def publish(event: dict[str, Any]) -> None:
            await self._bus.publish(conversation_id, event)
        return publish

    def _note_unavailable(self, state: RunState, plan: Any, toolset: ToolSet) -> None:
        if plan.tools_unavailable:
            state.add_notice("tools_unavailable", plan.tools_unavailable)
        for skipped in toolset.skipped:
            state.add_notice("tool_skipped", f"The {skipped['type']} tool is left out: {skipped['reason']}.")

    @staticmethod
    def _estimate(plan: Any, model_round: ModelRound, request: ModelRequest | None = None) -> Usage:
        request = request or plan.request
        prompt = plan.provider.count_tokens(request.model, request.messages, request.instructions)
        reply = ChatMessage.assistant(model_round.text, model_round.tool_calls)
        output = plan.provider.count_tokens(request.model, [reply], "") if (model_round.text or model_round.tool_calls) else 0
        return Usage(input_tokens=prompt, output_tokens=output, estimated=True)


def _full_reply(plan: Any, request: ModelRequest) -> int:
    """The reply allowance of a round before any budget capped it (the turn's first may be capped)."""
    return int(plan.context_report.get("reply_budget") or request.max_output_tokens or 0)


def _definition_tokens(plan: Any, definitions: list[Any]) -> int:
    if not definitions:
        return 0
    text = json.dumps([d.model_dump() for d in definitions], separators=(",", ":"))
    return plan.provider.count_tokens(plan.request.model, [], text)


async def _finish_even_if_cancelled(coro: Any) -> Any:
    """Run ``coro`` to the end even if this task is cancelled meanwhile (saving must not be lost)."""
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
