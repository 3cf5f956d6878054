"""SQLite on the event loop: inside a write transaction (BEGIN IMMEDIATE held) statements, including
``executemany``, run without a hand-off to aiosqlite's thread; outside one, writes still go there."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from agentcreator.db.session import _sqlite_write_lock, create_engine, create_session_factory, transaction

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


async def test_writers_take_the_free_lock_at_once_and_wait_only_for_a_suspended_one(tmp_path: Path) -> None:
    """A writer never queues behind the asyncio lock when the SQLite write lock is free; a writer that
    finds it held by another writer suspended mid-transaction waits for it, and both commit."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'locks.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_meta.create_all)
        sessions = create_session_factory(engine)
        lock = _sqlite_write_lock(sessions)
        assert lock is not None
        order: list[str] = []
        holding = asyncio.Event()

        async def slow_writer() -> None:
            async with transaction(sessions) as session:
                await session.execute(insert(_items).values(id=1, name="slow"))
                holding.set()
                await asyncio.sleep(0.2)  # suspended while holding the SQLite write lock
                order.append("slow commits")

        async def quick_writer() -> None:
            await holding.wait()
            async with transaction(sessions) as session:
                order.append("quick writes")
                await session.execute(insert(_items).values(id=2, name="quick"))

        await asyncio.wait_for(asyncio.gather(slow_writer(), quick_writer()), timeout=30)
        assert order == ["slow commits", "quick writes"]
        assert not lock.locked()
        for name in ("a", "b"):  # free lock: straight through, the asyncio lock is never taken
            async with transaction(sessions) as session:
                assert not lock.locked()
                await session.execute(insert(_items).values(name=name))
        async with sessions() as session:
            names = (await session.execute(select(_items.c.name).order_by(_items.c.id))).scalars().all()
        assert names == ["slow", "quick", "a", "b"]
    finally:
        await engine.dispose()
