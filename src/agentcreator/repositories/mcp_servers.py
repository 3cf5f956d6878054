"""MCP servers: platform-wide (admins manage them; every user's assistants may use enabled ones)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import McpServer


async def list_all(session: AsyncSession, *, enabled_only: bool = False) -> list[McpServer]:
    query = select(McpServer).order_by(McpServer.name)
    if enabled_only:
        query = query.where(McpServer.enabled.is_(True))
    return list((await session.execute(query)).scalars())


async def get(session: AsyncSession, server_id: str) -> McpServer | None:
    return await session.get(McpServer, server_id)


async def get_by_name(session: AsyncSession, name: str) -> McpServer | None:
    return (await session.execute(select(McpServer).where(McpServer.name == name))).scalar_one_or_none()


async def get_by_ref(session: AsyncSession, ref: str) -> McpServer | None:
    """The server whose id is ``ref``, else the one whose name is."""
    return await session.get(McpServer, ref) or await get_by_name(session, ref)


async def by_refs(session: AsyncSession, refs: Iterable[str]) -> list[McpServer]:
    """The servers named (by id or name) in ``refs``."""
    wanted = list(set(refs))
    if not wanted:
        return []
    query = select(McpServer).where(or_(McpServer.id.in_(wanted), McpServer.name.in_(wanted)))
    return list((await session.execute(query)).scalars())
