"""Apply Alembic migrations under a lock, so several processes starting at once are safe.

PostgreSQL: a session advisory lock. MariaDB/MySQL: GET_LOCK. SQLite: an exclusive file lock
next to the database file.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_LOCK_KEY = 0x41474E54  # "AGNT"
_MYSQL_LOCK = "agentcreator_migrate"


def alembic_config() -> Config:
    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _current_revisions(sync_conn: Connection) -> set[str]:
    return set(MigrationContext.configure(sync_conn).get_current_heads())


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(_current_revisions)


async def is_at_head(engine: AsyncEngine) -> bool:
    return await current_revisions(engine) == head_revisions()


@asynccontextmanager
async def _migration_lock(engine: AsyncEngine, conn: AsyncConnection) -> AsyncIterator[None]:
    dialect = engine.dialect.name
    if dialect == "postgresql":
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        await conn.commit()
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            await conn.commit()
    elif dialect == "mysql":
        got = (await conn.execute(text("SELECT GET_LOCK(:n, 300)"), {"n": _MYSQL_LOCK})).scalar()
        if got != 1:
            raise RuntimeError("timed out waiting for the migration lock")
        try:
            yield
        finally:
            await conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": _MYSQL_LOCK})
    else:  # SQLite: the file lock, taken before connecting (_file_lock)
        yield


@asynccontextmanager
async def _file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """SQLite: an exclusive lock on a file beside the database, taken before the first connection (a
    connection's first statement switches a new database to WAL, which two processes cannot do at once)."""
    database = make_url(str(engine.url)).database if engine.dialect.name == "sqlite" else None
    lock_path = Path(f"{database}.migrate.lock") if database and database != ":memory:" else None
    if lock_path is None:
        yield
        return
    handle = lock_path.open("a")
    try:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def _upgrade(sync_conn: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)


def _downgrade(sync_conn: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.downgrade(cfg, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with _file_lock(engine), engine.connect() as conn, _migration_lock(engine, conn):
        await conn.run_sync(_upgrade, revision)
        await conn.commit()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with _file_lock(engine), engine.connect() as conn, _migration_lock(engine, conn):
        await conn.run_sync(_downgrade, revision)
        await conn.commit()


def run_revision_autogenerate(engine_url: str, message: str) -> Any:
    """Developer helper: autogenerate a revision against a database at head."""
    from sqlalchemy import create_engine as create_sync_engine

    sync_url = make_url(engine_url).set(drivername="sqlite") if engine_url.startswith("sqlite") else engine_url
    eng = create_sync_engine(sync_url)
    with eng.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        return command.revision(cfg, message=message, autogenerate=True)
