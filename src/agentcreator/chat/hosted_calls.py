"""Hosted tool calls of a model step: OpenAI's web search, file search and code interpreter run by the
provider inside its call. They are recorded from the model stream, never run by ``chat/tool_step``:

* while the model streams, each call becomes a ``tool_call`` part (``hosted: true``) and is relayed
  as ``tool_call_started`` then ``tool_call_updated`` (its status, then its arguments and results);
* before the call, the round's metered call holds the most its hosted calls can cost (the request's
  ``max_hosted_calls`` at the dearest hosted fee): a budget without room refuses the round;
* after it, each finished call is priced per call from the price table (``tools`` section: the
  tool's type is its key; the code interpreter once per container, its session) and recorded as a
  ``tool`` usage record of the run's step, and the hold is settled with what the fees came to.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing, CallTarget, Cost
from agentcreator.billing.metered import MeteredCall, fee_micros
from agentcreator.chat import events as ev
from agentcreator.chat.parts import NO_RESULT_OUTPUT, ToolCallPart
from agentcreator.core.errors import PaymentRequired
from agentcreator.db.session import session_scope
from agentcreator.llm.types import HostedToolCall, ModelRequest, Usage

Publish = Callable[[dict[str, Any]], Awaitable[None]]
ACTIVITY = {"web_search": "Searching the web…", "file_search": "Searching files…",
            "code_interpreter": "Running code…"}
_FAILED = frozenset({"failed", "incomplete"})


@dataclass
class HostedCalls:
    """The hosted calls of one model step, by call id (the provider's item id)."""

    parts: dict[str, ToolCallPart] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    containers: dict[str, str] = field(default_factory=dict)  # code_interpreter: call id -> container id

    def __bool__(self) -> bool:
        return bool(self.parts)


async def hosted_call_event(calls: HostedCalls, event: HostedToolCall, publish: Publish, *, message_id: str,
                            round_index: int) -> None:
    """Apply one ``HostedToolCall`` event to its part and relay it."""
    part = calls.parts.get(event.call_id)
    if part is None:
        part = ToolCallPart(call_id=event.call_id, name=event.tool, arguments=event.arguments, round=round_index,
                            hosted=True)
        calls.parts[event.call_id] = part
        calls.started[event.call_id] = time.monotonic()
        await publish(ev.to_wire(ev.ToolCallStarted(message_id=message_id, call_id=part.call_id, name=part.name,
                                                    round=round_index)))
    if event.arguments != "{}":
        part.arguments = event.arguments
    if event.container_id:
        calls.containers[event.call_id] = event.container_id
    if event.status in _FAILED:
        part.status, part.is_error = "failed", True
        part.output = f"The {event.tool} call ended {event.status} on the provider."
    elif event.status == "completed":
        part.status = "complete"
    if event.done:
        part.result_parts = list(event.results)
        if not part.is_error:
            part.output = _summary(event)
    if part.status != "running":
        part.duration_ms = int((time.monotonic() - calls.started[event.call_id]) * 1000)
    activity = ACTIVITY.get(event.tool) if part.status == "running" else None
    await publish(ev.to_wire(ev.ToolCallUpdated(message_id=message_id, part=part, activity=activity)))


def _summary(event: HostedToolCall) -> str:
    """The call's result as the answer shows it (the model read the full results on the provider)."""
    arguments = json.loads(event.arguments or "{}")
    if event.tool == "web_search":
        what = arguments.get("query") or arguments.get("url") or "the web"
        return f"Searched: {what}" + (f" ({len(event.results)} sources)" if event.results else "")
    if event.tool == "file_search":
        return f"Searched files for: {'; '.join(arguments.get('queries') or [])} ({len(event.results)} passages)"
    logs = [str(out.get("logs", "")) for out in event.results if out.get("type") == "logs"]
    return "\n".join(logs) or "The code ran."


@dataclass
class HostedFees:
    sessions: async_sessionmaker[AsyncSession]
    billing: Billing
    target: CallTarget  # the model's: the fees are charged to the same user, assistant and conversation
    provider: str  # the provider that ran them ("openai"): the usage records' tool is "openai:web_search"

    async def _fees(self) -> dict[str, int]:
        async with session_scope(self.sessions) as session:
            table = await self.billing.price_table(session, cached=True)
        return dict(table.tools)

    async def hold(self, call: MeteredCall, request: ModelRequest) -> None:
        """Hold the most the request's hosted calls can cost with the round's call (PaymentRequired:
        no room, the round is refused like its model call)."""
        if not request.hosted_tools or not request.max_hosted_calls:
            return
        fees = await self._fees()
        dearest = max(fees.get(tool.type) or 0 for tool in request.hosted_tools)
        try:
            await call.hold_fees(fee_micros(dearest, request.max_hosted_calls))
        except PaymentRequired:
            await call.release()  # the round is not made: nothing of it stays held
            raise

    async def charge(self, session: AsyncSession, call: MeteredCall | None, calls: HostedCalls, *,
                     message_id: str, run_id: str, step_index: int) -> int:
        """Price and record each finished call in the caller's transaction (the unfinished ones are
        marked stopped: a stop or a broken stream), settle the round's hold; returns the fees."""
        for part in calls.parts.values():
            if part.status == "running":
                part.status, part.output, part.is_error = "stopped", NO_RESULT_OUTPUT, True
        table = await self.billing.price_table(session, cached=True)
        billed_containers: set[str] = set()
        total = 0
        for part in calls.parts.values():
            if part.status != "complete":
                continue
            container = calls.containers.get(part.call_id)
            if container is not None and container in billed_containers:
                continue  # one code interpreter session, one fee
            if container is not None:
                billed_containers.add(container)
            per_thousand = table.tools.get(part.name)
            cost = Cost(fee_micros(per_thousand), per_thousand is not None, table.version)
            part.cost_micros = cost.micros
            total += cost.micros
            target = dataclasses.replace(self.target, provider="tools", model=part.name, local=False)
            await MeteredCall(self.billing, target, None).record(
                session, kind="tool", usage=Usage(input_tokens=0, output_tokens=0), cost=cost,
                tool_calls={part.name: 1}, message_id=message_id, run_id=run_id, step_index=step_index,
                tool=f"{self.provider}:{part.name}")
        if call is not None:
            await call.settle_fees(session, total)
        return total
