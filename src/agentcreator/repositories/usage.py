"""Usage record queries for reports. Every query takes the owner scope (a user id, or None for an
admin's "everyone") from the caller; filters are always added to it, never replace it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Assistant, Conversation, UsageRecord, User
from agentcreator.db.types import new_id, utcnow

# Usage kinds shown by tool: the tool calls of runs, and embedding calls (knowledge bases) as "embeddings".
TOOL_KINDS = ("tool", "embedding")
GroupBy = Literal["day", "assistant", "model", "conversation", "kind", "user", "tool"]


@dataclass(frozen=True)
class UsageFilter:
    start: datetime
    end: datetime
    user_id: str | None  # None: every user (admins only; the service decides)
    assistant_id: str | None = None
    conversation_id: str | None = None
    kind: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where = [UsageRecord.created_at >= self.start, UsageRecord.created_at < self.end]
        if self.user_id is not None:
            where.append(UsageRecord.user_id == self.user_id)
        if self.assistant_id is not None:
            where.append(UsageRecord.assistant_id == self.assistant_id)
        if self.conversation_id is not None:
            where.append(UsageRecord.conversation_id == self.conversation_id)
        if self.kind is not None:
            where.append(UsageRecord.kind == self.kind)
        return where


def _measures() -> list[Any]:
    return [
        func.count().label("calls"),
        func.coalesce(func.sum(UsageRecord.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(UsageRecord.cached_input_tokens), 0).label("cached_input_tokens"),
        func.coalesce(func.sum(UsageRecord.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(UsageRecord.reasoning_tokens), 0).label("reasoning_tokens"),
        func.coalesce(func.sum(UsageRecord.tool_calls), 0).label("tool_calls"),
        func.coalesce(func.sum(UsageRecord.cost_micros), 0).label("cost_micros"),
        func.coalesce(func.sum(case((UsageRecord.priced.is_(False), 1), else_=0)), 0).label("unpriced_calls"),
    ]


MEASURES = ("calls", "input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens", "tool_calls",
            "cost_micros", "unpriced_calls")


def _key_columns(group_by: GroupBy) -> list[Any]:
    return {
        "day": [func.date(UsageRecord.created_at)],
        "assistant": [UsageRecord.assistant_id],
        "model": [UsageRecord.provider, UsageRecord.model],
        "conversation": [UsageRecord.conversation_id],
        "kind": [UsageRecord.kind],
        "user": [UsageRecord.user_id],
        "tool": [UsageRecord.tool],
    }[group_by]


def _key_text(group_by: GroupBy, values: Sequence[Any]) -> str | None:
    if group_by == "model":
        return f"{values[0]}/{values[1]}"
    value = values[0]
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return None if value is None else str(value)


async def grouped(session: AsyncSession, where: UsageFilter, group_by: GroupBy) -> list[dict[str, Any]]:
    keys = _key_columns(group_by)
    stmt: Select[Any] = select(*keys, *_measures()).where(*where.conditions()).group_by(*keys).order_by(*keys)
    if group_by == "tool":  # tool calls (their fees) and embeddings (tool "embeddings"); model calls have no tool
        stmt = stmt.where(UsageRecord.kind.in_(TOOL_KINDS))
    rows = (await session.execute(stmt)).all()
    out = []
    for row in rows:
        values = list(row)
        out.append({"key": _key_text(group_by, values[: len(keys)]),
                    **{name: int(v) for name, v in zip(MEASURES, values[len(keys):], strict=True)}})
    return out


async def totals(session: AsyncSession, where: UsageFilter) -> dict[str, int]:
    row = (await session.execute(select(*_measures()).where(*where.conditions()))).one()
    return {name: int(value) for name, value in zip(MEASURES, row, strict=True)}


async def labels(session: AsyncSession, group_by: GroupBy, keys: list[str], owner_id: str | None) -> dict[str, str]:
    """Names for the keys: assistant names, conversation titles, user emails (owner-scoped)."""
    ids = [k for k in keys if k]
    if not ids or group_by not in ("assistant", "conversation", "user"):
        return {}
    if group_by == "user":
        rows = await session.execute(select(User.id, User.email).where(User.id.in_(ids)))
        return {r[0]: r[1] for r in rows}
    model: Any = Assistant if group_by == "assistant" else Conversation
    label = Assistant.name if group_by == "assistant" else Conversation.title
    stmt = select(model.id, label).where(model.id.in_(ids))
    if owner_id is not None:
        stmt = stmt.where(model.owner_id == owner_id)
    return {r[0]: r[1] for r in await session.execute(stmt)}


async def page_records(session: AsyncSession, where: UsageFilter, after: tuple[datetime, str] | None,
                       limit: int) -> list[tuple[UsageRecord, str | None]]:
    """A page of matching records, oldest first, with their user's email (keyset: after (created_at, id))."""
    stmt = (select(UsageRecord, User.email).join(User, User.id == UsageRecord.user_id, isouter=True)
            .where(*where.conditions()).order_by(UsageRecord.created_at, UsageRecord.id).limit(limit))
    if after is not None:
        stmt = stmt.where(or_(UsageRecord.created_at > after[0],
                              and_(UsageRecord.created_at == after[0], UsageRecord.id > after[1])))
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


_INSERT_RECORD = insert(UsageRecord.__table__)


async def add_record(session: AsyncSession, values: dict[str, Any]) -> str:
    """Insert one usage record (every column but ``id`` and ``created_at`` in ``values``) with a Core
    INSERT built once; returns its id."""
    record_id = new_id()
    await session.execute(_INSERT_RECORD, {"id": record_id, "created_at": utcnow(), **values})
    return record_id
