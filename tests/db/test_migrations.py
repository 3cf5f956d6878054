"""Migrations: two processes starting at once on a fresh database both succeed; downgrade works."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Boolean, String, column, inspect, table, text
from sqlalchemy.engine import make_url

from agentcreator.db.base import Base
from agentcreator.db.migrate import current_revisions, downgrade, head_revisions, upgrade
from agentcreator.db.session import create_engine
from agentcreator.db.types import SafeJSON, UTCDateTime


@pytest.fixture
async def scratch_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of the same kind as the leg's."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    scratch = f"{url.database}_mig"  # the leg's database is already unique to this test session
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    quoted = f"`{scratch}`" if backend == "mysql" else f'"{scratch}"'
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
            extra = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if backend == "mysql" else ""
            await conn.execute(text(f"CREATE DATABASE {quoted}{extra}"))
        yield url.set(database=scratch).render_as_string(hide_password=False)
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
    finally:
        await admin.dispose()


async def _migrate_in_subprocess(url: str) -> tuple[int, str]:
    env = os.environ | {"DATABASE_URL": url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentcreator.cli", "migrate", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_two_processes_migrating_at_once_both_succeed(scratch_url: str) -> None:
    results = await asyncio.gather(_migrate_in_subprocess(scratch_url), _migrate_in_subprocess(scratch_url))
    for code, output in results:
        assert code == 0, output
    engine = create_engine(scratch_url)
    try:
        assert await current_revisions(engine) == head_revisions()
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert set(Base.metadata.tables) <= tables
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_upgrade_again(scratch_url: str) -> None:
    engine = create_engine(scratch_url)
    try:
        await upgrade(engine)
        await downgrade(engine, "base")
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert tables <= {"alembic_version"}
        await upgrade(engine)
        assert await current_revisions(engine) == head_revisions()
    finally:
        await engine.dispose()


async def test_0018_keeps_providers_on_this_machine_working(scratch_url: str) -> None:
    """Providers saved before the private-network flag existed: those whose base URL names this machine
    or a literal private address get it; public hosts and plain names do not."""
    engine = create_engine(scratch_url)
    urls = {"ollama": "http://localhost:11434/v1", "lan": "http://192.168.1.20:8000/v1", "v6": "http://[::1]:8080/v1",
            "cloud": "https://api.example.com/v1", "svc": "http://ollama:11434/v1", "openai": None}
    try:
        await upgrade(engine, "0013")
        providers = table("providers", column("id", String()), column("name", String()), column("kind", String()),
                          column("base_url", String()), column("models", SafeJSON()), column("enabled", Boolean()),
                          column("created_at", UTCDateTime()), column("updated_at", UTCDateTime()))
        now = datetime(2026, 1, 1, tzinfo=UTC)
        async with engine.begin() as conn:
            await conn.execute(providers.insert(), [
                {"id": f"p{i}", "name": name, "kind": "openai_compatible", "base_url": url, "models": [],
                 "enabled": True, "created_at": now, "updated_at": now} for i, (name, url) in enumerate(urls.items())])
        await upgrade(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT name, allow_private_network, allowed_user_ids FROM providers"))).all()
        flags = {name: bool(flag) for name, flag, _ in rows}
        assert flags == {"ollama": True, "lan": True, "v6": True, "cloud": False, "svc": False, "openai": False}
        assert all(allowed is None for _, _, allowed in rows)
    finally:
        await engine.dispose()
