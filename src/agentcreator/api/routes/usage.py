"""Usage reports for the signed-in user (administrators: any user, or everyone)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator

from agentcreator.api.deps import AppStateDep, CurrentUser, SessionDep
from agentcreator.api.schemas.usage import UsageReport, UsageSummary
from agentcreator.db.types import utcnow
from agentcreator.repositories.usage import GroupBy, UsageFilter
from agentcreator.services import usage as usage_service

router = APIRouter(prefix="/api/usage", tags=["usage"])

# Periods are bounded so that no date arithmetic overflows and every database can store them: a date
# outside is a 422, not a 500 or a truncated CSV.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200


def _within_range(value: date | datetime | None) -> date | datetime | None:
    if value is not None and not EARLIEST_YEAR < value.year < LATEST_YEAR:
        raise ValueError(f"dates must fall between {EARLIEST_YEAR + 1} and {LATEST_YEAR - 1}")
    return value


From = Annotated[date | datetime | None, Query(alias="from", description="Inclusive; default: start of this month (UTC)"),
                 AfterValidator(_within_range)]
To = Annotated[date | datetime | None, Query(alias="to", description="Exclusive; a bare date includes that day. Default: now"),
               AfterValidator(_within_range)]
UserId = Annotated[str | None, Query(max_length=64, description="Administrators: one user's usage")]
Everyone = Annotated[bool, Query(alias="all", description="Administrators: everyone's usage")]
Id = Annotated[str | None, Query(max_length=64)]
Kind = Annotated[str | None, Query(max_length=20, description="chat, title, summary, tool or embedding")]


def _filter(user: CurrentUser, start: From, end: To, user_id: UserId, everyone: Everyone, assistant_id: Id,
            conversation_id: Id, kind: Kind, group_by: GroupBy | None = None) -> UsageFilter:
    return usage_service.build_filter(user, start=start, end=end, user_id=user_id, everyone=everyone,
                                      assistant_id=assistant_id, conversation_id=conversation_id, kind=kind,
                                      group_by=group_by)


@router.get("", operation_id="usage_report", response_model=UsageReport)
async def usage_report(user: CurrentUser, session: SessionDep, start: From = None, end: To = None,
                       group_by: Annotated[GroupBy, Query()] = "day", user_id: UserId = None,
                       everyone: Everyone = False, assistant_id: Id = None, conversation_id: Id = None,
                       kind: Kind = None) -> UsageReport:
    """Usage summed by day, assistant, model, conversation, kind, tool (the tool calls of runs, and
    embeddings as the tool "embeddings") or (administrators) user."""
    where = _filter(user, start, end, user_id, everyone, assistant_id, conversation_id, kind, group_by)
    return UsageReport.model_validate(await usage_service.report(session, where, group_by))


@router.get("/export.csv", operation_id="usage_export_csv", responses={200: {"content": {"text/csv": {}}}})
async def usage_export(user: CurrentUser, state: AppStateDep, session: SessionDep, start: From = None,
                       end: To = None, user_id: UserId = None, everyone: Everyone = False, assistant_id: Id = None,
                       conversation_id: Id = None, kind: Kind = None) -> StreamingResponse:
    """Every usage record of the period as CSV (one row per model call)."""
    where = _filter(user, start, end, user_id, everyone, assistant_id, conversation_id, kind)
    await session.close()
    name = f"usage-{utcnow().strftime('%Y%m%d-%H%M%S')}.csv"
    return StreamingResponse(usage_service.export_csv(state.sessions, where), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/summary", operation_id="usage_summary")
async def usage_summary(user: CurrentUser, session: SessionDep, state: AppStateDep) -> UsageSummary:
    """The dashboard: this month's and today's spend and tokens, a daily series, budgets left."""
    return UsageSummary.model_validate(await usage_service.dashboard(session, state.billing, user))
