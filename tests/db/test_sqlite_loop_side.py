"""SQLite on the event loop: inside a write transaction (BEGIN IMMEDIATE held) statements, including
``executemany``, run without a hand-off to aiosqlite's thread; outside one, writes still go there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from agentcreator.db.session import create_engine, create_session_factory, transaction

_meta = MetaData()
_items = Table("items", _meta, Column("id", Integer, primary_key=True), Column("name", String(20)))


async def test_a_write_transaction_runs_executemany_on_the_loop(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_meta.create_all)
        sessions = create_session_factory(engine)
        handed_off: list[str] = []
        original = aiosqlite.Connection._execute

        async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
            handed_off.append(getattr(fn, "__name__", "?"))
            return await original(self, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
        async with transaction(sessions) as session:
            await session.execute(insert(_items), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
        assert handed_off == []
        async with sessions() as session:
            assert (await session.execute(select(_items.c.name).order_by(_items.c.id))).scalars().all() == ["a", "b"]
            await session.execute(insert(_items), [{"id": 3, "name": "c"}])  # no write lock held: the thread
            await session.commit()
        assert "executemany" in handed_off or "execute" in handed_off
    finally:
        await engine.dispose()
