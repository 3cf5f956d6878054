"""A tool step of a run: the tool calls of one model round, run concurrently, each with its own
timeout and fee. A call that fails (bad arguments, an unknown tool, the tool's error, a timeout, no
budget for its fee) gets its error as the result the model reads; it never breaks the run. A stop
cancels the running calls: they end ``stopped``, and the step raises ``CancelledError`` to the loop.

A call's fee is reserved before it runs; its usage is recorded with the tool step's own save
(``ToolStepContext.settlements``: one transaction for the whole round, chat/run_store), and whatever
is not recorded is released (:func:`release_unsettled`)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing, CallTarget, Cost
from agentcreator.billing.metered import MeteredCall, fee_micros, reserve_fee
from agentcreator.chat import events as ev
from agentcreator.chat.parts import ToolCallPart
from agentcreator.core.errors import PaymentRequired
from agentcreator.db.session import session_scope
from agentcreator.llm.types import Usage
from agentcreator.tools import Tool, ToolContext, ToolError, ToolResult, ToolSet

log = logging.getLogger(__name__)
Publish = Callable[[dict[str, Any]], Awaitable[None]]
STOPPED_OUTPUT = "The call was stopped before it finished."


@dataclasses.dataclass
class ToolSettlement:
    """A finished call's fee, to record in the tool step's transaction (chat/run_store)."""

    call: MeteredCall
    tool: Tool
    result: ToolResult
    cost: Cost


@dataclasses.dataclass
class ToolStepContext:
    sessions: async_sessionmaker[AsyncSession]
    billing: Billing
    target: CallTarget
    toolset: ToolSet
    tool_context: ToolContext
    publish: Publish
    message_id: str
    run_id: str
    max_output_chars: int = 20_000
    settlements: list[ToolSettlement] = dataclasses.field(default_factory=list)


async def run_tool_calls(ctx: ToolStepContext, parts: list[ToolCallPart], *, step_index: int) -> None:
    """Run the calls of ``parts`` concurrently, setting each part's result in place. Cancelled (stop):
    the running calls are marked stopped, then ``CancelledError`` propagates."""
    fees = await _fees(ctx, [ctx.toolset.get(part.name) for part in parts])
    tasks = [asyncio.create_task(_run_one(ctx, part, fees.get(part.name), step_index), name=f"tool-{part.call_id}")
             for part in parts]
    try:
        await asyncio.gather(*tasks)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _fees(ctx: ToolStepContext, tools: list[Tool | None]) -> dict[str, tuple[int | None, int]]:
    """Each tool's fee per 1,000 calls and the price version, read once per round (cached table)."""
    keyed = {tool.name: tool.price_key for tool in tools if tool is not None and tool.price_key}
    if not keyed:
        return {}
    table = ctx.billing.cached_price_table()
    if table is None:  # stale copy: read (no session is opened when the copy is fresh)
        async with session_scope(ctx.sessions) as session:
            table = await ctx.billing.price_table(session, cached=True)
    return {name: (table.tools.get(key), table.version or 0) for name, key in keyed.items()}


async def _run_one(ctx: ToolStepContext, part: ToolCallPart, fee: tuple[int | None, int] | None,
                   step_index: int) -> None:
    """``step_index``: the tool step's (its fee and what the tool meters, e.g. embeddings, point to it)."""
    tool = ctx.toolset.get(part.name)
    started = time.monotonic()
    try:
        if tool is None:
            _finish(part, ToolResult.error(f"There is no tool named '{part.name}'. Use one of: "
                                           f"{', '.join(ctx.toolset.tools) or 'none'}."), started)
            return
        arguments = _parse_arguments(part.arguments)
        if isinstance(arguments, str):
            _finish(part, ToolResult.error(arguments), started)
            return
        if tool.client_side:
            part.status = "requires_action"
            await ctx.publish(ev.to_wire(ev.ToolCallUpdated(message_id=ctx.message_id, part=part)))
            return
        await ctx.publish(ev.to_wire(ev.ToolCallUpdated(message_id=ctx.message_id, part=part, activity=tool.activity)))
        per_thousand = fee[0] if fee else None
        target = dataclasses.replace(ctx.target, provider="tools", model=tool.price_key or tool.name, local=False)
        try:
            call = await _reserve(ctx, target, fee_micros(per_thousand))
        except PaymentRequired as exc:
            _finish(part, ToolResult.error(f"Not run: {exc.message}"), started, ctx.max_output_chars)
            return
        try:
            result = await _invoke(tool, arguments, dataclasses.replace(
                ctx.tool_context, call_id=part.call_id, step_index=step_index, message_id=ctx.message_id))
        except BaseException:
            await asyncio.shield(call.release())
            raise
        # A self-hosted tool with no fee set costs 0 until an admin sets one (not "unpriced").
        cost = Cost(fee_micros(per_thousand, result.billable_calls), True, fee[1] if fee else None)
        part.cost_micros = cost.micros
        _finish(part, result, started, ctx.max_output_chars)  # done: a stop from here on keeps it
        ctx.settlements.append(ToolSettlement(call, tool, result, cost))
    except asyncio.CancelledError:
        if part.status == "running":
            part.status, part.output, part.is_error = "stopped", STOPPED_OUTPUT, True
            part.duration_ms = int((time.monotonic() - started) * 1000)
        raise
    finally:
        if part.status != "running" and part.status != "requires_action":
            await asyncio.shield(ctx.publish(ev.to_wire(ev.ToolCallUpdated(message_id=ctx.message_id, part=part))))


async def _reserve(ctx: ToolStepContext, target: CallTarget, micros: int) -> MeteredCall:
    """The call's fee, reserved before it runs (nothing to hold for a free tool)."""
    reservation = await reserve_fee(ctx.billing, target, micros) if micros > 0 else None
    return MeteredCall(ctx.billing, target, reservation, run_id=ctx.run_id)


async def record_settlements(session: AsyncSession, ctx: ToolStepContext, step_index: int) -> None:
    """Record the fees of the calls that finished, in the caller's transaction (the tool step's save)."""
    for settled in ctx.settlements:
        await settled.call.record(session, kind="tool", usage=Usage(input_tokens=0, output_tokens=0), cost=settled.cost,
                                  tool_calls={settled.tool.price_key or settled.tool.name: settled.result.billable_calls},
                                  message_id=ctx.message_id, run_id=ctx.run_id, step_index=step_index,
                                  tool=settled.tool.name)


async def release_unsettled(ctx: ToolStepContext) -> None:
    """Give back the fee reservations the step's save did not record (it failed)."""
    for settled in ctx.settlements:
        if not settled.call.settled:
            await settled.call.release()


async def _invoke(tool: Tool, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
    try:
        return await asyncio.wait_for(tool.run(arguments, context), timeout=tool.timeout_seconds)
    except TimeoutError:
        return ToolResult.error(f"The tool '{tool.name}' timed out after {tool.timeout_seconds:g} s.")
    except ToolError as exc:
        return ToolResult.error(exc.message)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a tool's bug: the model reads that it failed, the log has the trace
        log.exception("tool %s failed unexpectedly", tool.name)
        return ToolResult.error(f"The tool '{tool.name}' failed: {type(exc).__name__}.")


def _parse_arguments(raw: str) -> dict[str, Any] | str:
    try:
        value = json.loads(raw or "{}")
    except ValueError as exc:
        return f"The arguments are not valid JSON ({exc.msg} at position {exc.pos}). Send a JSON object."
    if not isinstance(value, dict):
        return "The arguments must be a JSON object."
    return value


def _finish(part: ToolCallPart, result: ToolResult, started: float, max_chars: int = 20_000) -> None:
    output = result.output
    if len(output) > max_chars:
        output = output[:max_chars] + f"\n[cut: the result was {len(result.output)} characters; first {max_chars} shown]"
    part.output = output
    part.is_error = result.is_error
    part.status = "failed" if result.is_error else "complete"
    part.result_parts = list(result.parts)
    part.session_restarted = result.session_restarted
    part.session_ended = result.session_ended
    part.cpu_seconds = result.cpu_seconds
    part.duration_ms = int((time.monotonic() - started) * 1000)
