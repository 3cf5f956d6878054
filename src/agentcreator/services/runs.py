"""Reading runs (a turn's loop of steps, chat/run_loop.py) for their owner: one with its steps and the
calls it waits for, or the runs of a conversation, newest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.core.errors import NotFound
from agentcreator.db.models import Message, Run, RunStep
from agentcreator.repositories import runs as run_repo


@dataclass
class RunView:
    run: Run
    steps: list[RunStep] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)


async def run_of(session: AsyncSession, owner_id: str, conversation_id: str, run_id: str) -> RunView:
    """The run, its steps and (while ``requires_action``) the calls it waits for; NotFound unless it
    is ``owner_id``'s and in ``conversation_id``."""
    run = await run_repo.owned_run(session, owner_id, run_id)
    if run is None or run.conversation_id != conversation_id:
        raise NotFound("Run")
    pending: list[dict[str, Any]] = []
    if run.status == "requires_action":
        answer = await session.get(Message, run.message_id)
        parts = answer.content if answer is not None else []
        pending = [{"call_id": p["call_id"], "name": p["name"], "arguments": p.get("arguments", "")}
                   for p in parts or [] if p.get("type") == "tool_call" and p.get("status") == "requires_action"]
    return RunView(run, await run_repo.steps_of(session, run.id), pending)


async def runs_of(session: AsyncSession, owner_id: str, conversation_id: str, *, limit: int,
                  offset: int) -> tuple[list[Run], int]:
    return await run_repo.runs_of_conversation(session, owner_id, conversation_id, limit=limit, offset=offset)
