"""The runs of a conversation's answers (read-only): their status, steps and the client-side calls a
paused run waits for. Continuing a paused run is a chat turn: ``POST .../runs/{run_id}/tool_outputs``
(api/routes/chat.py). Another user's conversation or run is "not found"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from agentcreator.api.deps import CurrentUser, OwnedConversation, SessionDep
from agentcreator.api.schemas.runs import PendingToolCall, RunPublic, RunsPublic, RunStepPublic
from agentcreator.db.models import Run
from agentcreator.services import runs as run_service

router = APIRouter(prefix="/api/conversations", tags=["runs"])


def _public(run: Run, view: run_service.RunView | None = None) -> RunPublic:
    return RunPublic(
        id=run.id, conversation_id=run.conversation_id, message_id=run.message_id, assistant_id=run.assistant_id,
        model=run.model, status=run.status, ended_by=run.ended_by, rounds=run.rounds,  # type: ignore[arg-type]
        cost_micros=run.cost_micros, error=run.error, created_at=run.created_at, finished_at=run.finished_at,
        pending_tool_calls=[PendingToolCall(**call) for call in view.pending] if view else [],
        steps=[RunStepPublic.model_validate(step) for step in view.steps] if view else [])


@router.get("/{conversation_id}/runs", operation_id="runs_list")
async def list_runs(conversation: OwnedConversation, session: SessionDep, user: CurrentUser,
                    limit: Annotated[int, Query(ge=1, le=100)] = 20,
                    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> RunsPublic:
    """The conversation's runs, newest first (without their steps)."""
    runs, count = await run_service.runs_of(session, user.id, conversation.id, limit=limit, offset=offset)
    return RunsPublic(data=[_public(run) for run in runs], count=count)


@router.get("/{conversation_id}/runs/{run_id}", operation_id="runs_get")
async def get_run(conversation: OwnedConversation, session: SessionDep, user: CurrentUser,
                  run_id: Annotated[str, Path(max_length=64)]) -> RunPublic:
    """One run with its steps; while it is ``requires_action``, the calls it waits for."""
    view = await run_service.run_of(session, user.id, conversation.id, run_id)
    return _public(view.run, view)
