"""Usage reports: grouped summaries, CSV export and the dashboard summary.

Scope: a user sees their own usage; an administrator may pass ``user_id`` (one user) or
``all=true`` (everyone) and group by user. Filters (assistant, conversation, kind) narrow the
scope and never widen it: another user's assistant or conversation id simply matches nothing.
Periods are UTC; ``from`` is inclusive and ``to`` exclusive (a bare date as ``to`` includes that day).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing
from agentcreator.billing.budgets import checks_for, day_bounds, month_bounds
from agentcreator.core.errors import Forbidden, ValidationFailed
from agentcreator.db.models import User
from agentcreator.db.session import session_scope
from agentcreator.db.types import utcnow
from agentcreator.repositories import budgets as budget_repo
from agentcreator.repositories import usage as usage_repo
from agentcreator.repositories.usage import GroupBy, UsageFilter

CSV_COLUMNS = ("created_at", "user_id", "user_email", "assistant_id", "conversation_id", "message_id", "kind",
               "provider", "model", "input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens",
               "tool_calls", "estimated", "priced", "price_version", "cost_micros", "cost_usd", "run_id", "step_index",
               "tool")
_PAGE = 1000


def _as_start(value: datetime | date | None, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, UTC)


def _as_end(value: datetime | date | None, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value + timedelta(days=1), time.min, UTC)


def build_filter(user: User, *, start: datetime | date | None, end: datetime | date | None,
                 user_id: str | None = None, everyone: bool = False, assistant_id: str | None = None,
                 conversation_id: str | None = None, kind: str | None = None,
                 group_by: GroupBy | None = None) -> UsageFilter:
    """The caller's scope and filters; only administrators may look beyond their own usage."""
    if (everyone or (user_id is not None and user_id != user.id) or group_by == "user") and not user.is_admin:
        raise Forbidden("Only administrators can see other users' usage", code="admin_required")
    now = utcnow()
    _, month_start, _ = month_bounds(now)
    since = _as_start(start, month_start)
    until = _as_end(end, now + timedelta(seconds=1))
    if until <= since:
        raise ValidationFailed("'to' must be after 'from'", code="bad_period")
    scope = None if everyone else (user_id or user.id)
    return UsageFilter(since, until, scope, assistant_id, conversation_id, kind)


async def report(session: AsyncSession, where: UsageFilter, group_by: GroupBy) -> dict[str, Any]:
    rows = await usage_repo.grouped(session, where, group_by)
    names = await usage_repo.labels(session, group_by, [r["key"] for r in rows if r["key"]], where.user_id)
    for row in rows:
        row["label"] = names.get(row["key"]) if row["key"] else None
    return {"from": where.start, "to": where.end, "group_by": group_by, "user_id": where.user_id,
            "data": rows, "totals": await usage_repo.totals(session, where)}


def _cell(value: Any) -> str:
    """CSV-safe text: a cell starting with = + - @ (or a control) is not run as a formula."""
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _usd(micros: int) -> str:
    whole, fraction = divmod(micros, 1_000_000)
    return f"{whole}.{fraction:06d}"


async def export_csv(sessions: async_sessionmaker[AsyncSession], where: UsageFilter) -> AsyncIterator[str]:
    """The matching usage records as CSV, page by page (a short session per page)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    after: tuple[datetime, str] | None = None
    while True:
        async with session_scope(sessions) as session:
            page = await usage_repo.page_records(session, where, after, _PAGE)
        for record, email in page:
            writer.writerow([_cell(v) for v in (
                record.created_at, record.user_id, email, record.assistant_id, record.conversation_id,
                record.message_id, record.kind, record.provider, record.model, record.input_tokens,
                record.cached_input_tokens, record.output_tokens, record.reasoning_tokens, record.tool_calls,
                str(record.estimated).lower(), str(record.priced).lower(), record.price_version,
                record.cost_micros, _usd(record.cost_micros), record.run_id, record.step_index, record.tool)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(page) < _PAGE:
            return
        after = (page[-1][0].created_at, page[-1][0].id)


async def dashboard(session: AsyncSession, billing: Billing, user: User) -> dict[str, Any]:
    """This month's spend and tokens, today's, a daily series, and what is left of each budget."""
    now = utcnow()
    day, day_start, _ = day_bounds(now)
    month, month_start, month_end = month_bounds(now)
    month_filter = UsageFilter(month_start, month_end, user.id)
    month_totals = await usage_repo.totals(session, month_filter)
    today = await usage_repo.totals(session, UsageFilter(day_start, month_end, user.id))
    daily = await usage_repo.grouped(session, month_filter, "day")
    limits = await billing.user_limits(session, user.id)
    budgets = []
    for check in checks_for(now, user.id, limits):
        row = await budget_repo.get_row(session, check.key)
        spent = (row.spent_micros, row.spent_tokens) if row else (0, 0)
        reserved = (row.reserved_micros, row.reserved_tokens) if row else (0, 0)
        for unit, limit, index in (("usd_micros", check.limit_micros, 0), ("tokens", check.limit_tokens, 1)):
            if limit is None:
                continue
            budgets.append({"budget": check.name, "unit": unit, "period": check.key.period, "limit": limit,
                            "spent": spent[index], "reserved": reserved[index],
                            "remaining": max(limit - spent[index] - reserved[index], 0),
                            "resets_at": check.end})
    return {
        "month": month, "day": day,
        "month_totals": month_totals, "today_totals": today,
        "daily": [{"day": r["key"], "cost_micros": r["cost_micros"],
                   "tokens": r["input_tokens"] + r["output_tokens"], "calls": r["calls"]} for r in daily],
        "budgets": budgets,
        "limits": limits.as_dict(),
    }
