"""The versioned price table: the latest version, one version's rates, adding a version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.billing.pricing import ModelRate, PriceTable
from agentcreator.db.models import ModelPrice, PriceVersion, ToolPrice


async def latest_version(session: AsyncSession) -> PriceVersion | None:
    latest = (await session.execute(select(func.max(PriceVersion.id)))).scalar_one_or_none()
    return await session.get(PriceVersion, latest) if latest is not None else None


async def get_version(session: AsyncSession, version_id: int) -> PriceVersion | None:
    return await session.get(PriceVersion, version_id)


async def list_versions(session: AsyncSession, limit: int, offset: int) -> tuple[list[PriceVersion], int]:
    total = (await session.execute(select(func.count()).select_from(PriceVersion))).scalar_one()
    rows = await session.execute(select(PriceVersion).order_by(PriceVersion.id.desc()).limit(limit).offset(offset))
    return list(rows.scalars()), int(total)


async def load_table(session: AsyncSession, version: PriceVersion) -> PriceTable:
    models = (await session.execute(select(ModelPrice).where(ModelPrice.version_id == version.id)
                                    .order_by(ModelPrice.pattern))).scalars()
    tools = (await session.execute(select(ToolPrice).where(ToolPrice.version_id == version.id)
                                   .order_by(ToolPrice.tool))).scalars()
    return PriceTable(
        version=version.id,
        models=tuple(ModelRate(m.pattern, m.input_rate, m.cached_input_rate, m.output_rate) for m in models),
        tools={t.tool: t.per_1k_calls for t in tools})


async def add_version(session: AsyncSession, *, created_by: str | None, note: str, models: Sequence[ModelRate],
                      tools: Mapping[str, int]) -> PriceVersion:
    version = PriceVersion(created_by=created_by, note=note)
    session.add(version)
    await session.flush()
    session.add_all(ModelPrice(version_id=version.id, pattern=m.pattern, input_rate=m.input,
                               cached_input_rate=m.cached_input, output_rate=m.output) for m in models)
    session.add_all(ToolPrice(version_id=version.id, tool=tool, per_1k_calls=fee) for tool, fee in tools.items())
    await session.flush()
    return version
