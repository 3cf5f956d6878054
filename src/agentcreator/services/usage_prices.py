"""Price table use cases: read the current (or any) version, save a new version (admins)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.billing import Billing, ModelRate, PriceTable
from agentcreator.core.errors import NotFound
from agentcreator.db.models import PriceVersion
from agentcreator.repositories import usage_prices as price_repo


def table_doc(version: PriceVersion, table: PriceTable) -> dict[str, Any]:
    return {
        "version": version,
        "models": [{"pattern": m.pattern, "input_per_1m": m.input, "cached_input_per_1m": m.cached_input,
                    "output_per_1m": m.output} for m in table.models],
        "tools": [{"tool": tool, "per_1k_calls": fee} for tool, fee in sorted(table.tools.items())],
    }


async def get_prices(session: AsyncSession, billing: Billing, version_id: int | None = None) -> dict[str, Any]:
    if version_id is None:
        await billing.price_table(session)  # seeds the defaults if the table is empty
        await session.commit()
        version = await price_repo.latest_version(session)
    else:
        version = await price_repo.get_version(session, version_id)
    if version is None:
        raise NotFound("Price version")
    return table_doc(version, await price_repo.load_table(session, version))


async def put_prices(session: AsyncSession, admin_id: str, note: str, models: list[dict[str, Any]],
                     tools: list[dict[str, Any]]) -> dict[str, Any]:
    """Save a whole new table as the next version; costs already recorded keep theirs."""
    rates = [ModelRate(m["pattern"], m["input_per_1m"], m["cached_input_per_1m"], m["output_per_1m"])
             for m in models]
    version = await price_repo.add_version(session, created_by=admin_id, note=note, models=rates,
                                           tools={t["tool"]: t["per_1k_calls"] for t in tools})
    await session.commit()
    return table_doc(version, await price_repo.load_table(session, version))
