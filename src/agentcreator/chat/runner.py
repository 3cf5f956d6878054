"""One chat turn, after its messages are saved: build the assistant's tools, run the loop of steps
(``chat/run_loop``), publish how it ended, then the follow-ups (title, window summary). No DB session
is open while the model streams or a tool works. Stop, client gone and shutdown cancel the task; what
was produced is kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing, CallTarget, Reservation
from agentcreator.chat import events as ev
from agentcreator.chat.bus import EventBus
from agentcreator.chat.run_loop import RunLoop
from agentcreator.chat.run_state import RunStatus
from agentcreator.chat.turns import RunningTurn, TurnRegistry
from agentcreator.db.types import new_id
from agentcreator.llm.base import ModelProvider
from agentcreator.llm.types import ModelInfo, ModelRequest
from agentcreator.tools import ToolContext, ToolRegistry, ToolSet

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
    model_info: ModelInfo
    request: ModelRequest
    context_report: dict[str, Any]
    target: CallTarget  # who pays and for which model, for the meter
    placeholder: ev.MessageSnapshot  # the answer as saved when the turn started
    reservation: Reservation | None = None  # what the budgets hold for the first model call until it settles
    tool_configs: list[dict[str, Any]] = field(default_factory=list)  # the assistant's saved tools
    generate_title_from: str | None = None  # first user text, when the conversation needs a title
    summarize_dropped: bool = False  # the assistant keeps a summary of what falls out of the window
    # The first model call, when the turn's start sent it already (no tools: see ChatService).
    first_call: Any = None  # EarlyCall | OpenedStream: an async iterator of StreamEvent with aclose()
    run_id: str = field(default_factory=new_id)
    tools_unavailable: str | None = None  # why the run goes without the assistant's tools, if it does
    citations: list[dict[str, Any]] = field(default_factory=list)  # passages retrieved before the turn
    resumed: Any = None  # RunState: a run paused in requires_action going on (chat/tool_outputs)
    budget_overrides: dict[str, Any] | None = None  # the owner's budget overrides as read at the turn's start
    toolset: ToolSet | None = None  # the run's tools, when the turn's start built them (its early first call)
    prompt_tokens: int = 0  # the first request's prompt as counted for its quote (0: not counted)



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


class TurnRunner:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, turns: TurnRegistry,
                 billing: Billing, title_writer: Any = None, window_summarizer: Any = None,
                 pace: RelayPace | None = None, tools: ToolRegistry | None = None, max_rounds: int = 10,
                 tool_output_max_chars: int = 20_000, checkpoint_seconds: float = 1.0,
                 checkpoint_tokens: int = 16, checkpoints_per_second: float = 50.0) -> None:
        pace = pace or RelayPace()
        self._bus = bus
        self._turns = turns
        self._tools = tools or ToolRegistry()
        self._title_writer = title_writer
        self._window_summarizer = window_summarizer
        self._loop = RunLoop(sessions, billing, bus, max_rounds=max_rounds,
                             pace_wait=lambda: pace.wait(len(turns)), tool_output_max_chars=tool_output_max_chars,
                             checkpoint_seconds=lambda: max(checkpoint_seconds, len(turns) / checkpoints_per_second),
                             checkpoint_tokens=checkpoint_tokens, checkpoint_defer=turns.starting)

    async def run(self, plan: TurnPlan) -> None:
        turn = plan.turn
        turn.started = True
        try:
            toolset = await self._toolset(plan)
            state, snapshot = await self._loop.run(plan, toolset)
        finally:
            self._turns.release(turn)
            turn.finished.set()
        if snapshot is None:  # the conversation was deleted while the answer streamed
            await self._bus.close(plan.conversation_id, turn.turn_id)
            return
        terminal: ev.TurnCompleted | ev.TurnStopped | ev.TurnFailed
        run = {"run_id": state.run_id, "run_status": state.status.value}
        if snapshot.status == "complete":
            terminal = ev.TurnCompleted(message=snapshot, **run)
        elif state.error is not None:
            terminal = ev.TurnFailed(message=snapshot, error=state.error, **run)
        else:
            terminal = ev.TurnStopped(message=snapshot, **run)
        await self._bus.publish(plan.conversation_id, ev.to_wire(terminal))
        completed = state.status is RunStatus.COMPLETED
        try:
            if plan.generate_title_from and self._title_writer is not None and completed:
                await self._title_writer(plan)
            if plan.summarize_dropped and self._window_summarizer is not None and completed:
                await self._window_summarizer(plan)
        finally:
            await self._bus.close(plan.conversation_id, turn.turn_id)

    async def _toolset(self, plan: TurnPlan) -> ToolSet:
        """The assistant's tools for this run; none (with the reason in the answer) on a model that
        cannot call tools."""
        if plan.toolset is not None:  # built with the run's early first call (chat/turn_draft)
            return plan.toolset
        if not plan.tool_configs or plan.tools_unavailable:
            return ToolSet()
        if plan.turn.stop_reason is not None:
            return ToolSet()
        # Hosted tools: those the model declares that its provider's protocol can send (OpenAI's only).
        can_host = ToolRegistry.can_host(plan.model_info.hosted_tools, plan.provider.hosted_tool_types)
        return await self._tools.build(plan.tool_configs, ToolContext(
            user_id=plan.owner_id, conversation_id=plan.conversation_id, assistant_id=plan.assistant_id,
            run_id=plan.run_id), can_host)
