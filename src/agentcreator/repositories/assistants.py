from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, cast, delete, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Assistant
from agentcreator.db.types import SafeJSON

_ID = re.compile(r"[0-9a-f]{32}")


def plausible_id(value: str) -> bool:
    """Ids are 32 lowercase hex characters. Anything else cannot exist, so it is not looked up:
    MySQL compares case- and trailing-space-insensitively and PostgreSQL rejects NUL in a VARCHAR."""
    return _ID.fullmatch(value) is not None


def icontains(dialect: str, column: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """Case-insensitive substring match, wildcards in ``needle`` taken literally.

    MySQL's ``*_unicode_ci`` collations also ignore accents and give every emoji the same weight,
    so there the comparison is made binary on lower-cased text. SQLite's LIKE stops at a NUL, so
    there it is ``instr`` (its ``lower`` folds ASCII letters only)."""
    if dialect == "mysql":
        escaped = needle.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
        return func.lower(column).collate("utf8mb4_bin").like(f"%{escaped}%", escape="/")
    if dialect == "sqlite":
        return func.instr(func.lower(column), func.lower(needle)) > 0
    return column.icontains(needle, autoescape=True)


def _has_tag(dialect: str, tag: str) -> ColumnElement[bool]:
    """Exact membership of ``tag`` in the JSON array ``assistants.tags``.

    The needle is bound as JSON, so it is serialized exactly like the stored tags: MariaDB does not
    decode escaped surrogate pairs (emoji) before comparing, and SQLite's decoded values stop at NUL,
    so on those two the comparison is between JSON texts."""
    needle = literal(tag, SafeJSON())
    if dialect == "postgresql":
        return cast(Assistant.tags, JSONB).op("@>")(cast(literal([tag], SafeJSON()), JSONB))
    if dialect == "mysql":
        return func.json_contains(Assistant.tags, needle) == 1
    items = func.json_each(Assistant.tags).table_valued("key")
    element = Assistant.tags.op("->", return_type=SafeJSON())(func.printf("$[%d]", items.c.key))
    return exists(select(1).select_from(items).where(element == needle))


async def get_owned(session: AsyncSession, owner_id: str, assistant_id: str) -> Assistant | None:
    if not plausible_id(assistant_id):
        return None
    return (await session.execute(
        select(Assistant).where(Assistant.id == assistant_id, Assistant.owner_id == owner_id)
    )).scalar_one_or_none()


async def owned_ids(session: AsyncSession, owner_id: str, ids: Sequence[str]) -> set[str]:
    """The subset of ``ids`` naming assistants of ``owner_id``."""
    wanted = [i for i in set(ids) if plausible_id(i)]
    if not wanted:
        return set()
    rows = await session.execute(
        select(Assistant.id).where(Assistant.owner_id == owner_id, Assistant.id.in_(wanted)))
    return set(rows.scalars())


def _filtered(session: AsyncSession, owner_id: str, q: str | None, tag: str | None) -> Select[tuple[Assistant]]:
    dialect = session.get_bind().dialect.name
    stmt = select(Assistant).where(Assistant.owner_id == owner_id)
    if q:
        stmt = stmt.where(or_(icontains(dialect, Assistant.name, q),
                              icontains(dialect, Assistant.description, q)))
    if tag:
        stmt = stmt.where(_has_tag(dialect, tag))
    return stmt


async def list_owned(session: AsyncSession, owner_id: str, *, q: str | None = None, tag: str | None = None,
                     limit: int = 50, offset: int = 0) -> tuple[list[Assistant], int]:
    """A page of the owner's assistants, most recently updated first, and the total matching."""
    stmt = _filtered(session, owner_id, q, tag)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(Assistant.updated_at.desc(), Assistant.id.desc()).limit(limit).offset(offset))
    return list(rows.scalars()), int(total)


async def add(session: AsyncSession, assistant: Assistant) -> Assistant:
    session.add(assistant)
    await session.flush()
    return assistant


async def delete_owned(session: AsyncSession, owner_id: str, assistant_id: str) -> bool:
    """Delete one assistant; its conversations stay, their ``assistant_id`` set NULL by the FK."""
    result = await session.execute(
        delete(Assistant).where(Assistant.id == assistant_id, Assistant.owner_id == owner_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]
