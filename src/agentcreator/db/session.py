"""Engine and session factory, built in the app's lifespan (never at import time)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # The busy timeout first: switching a new database to WAL takes a lock that another process
    # opening it at the same moment (two workers migrating at start) may hold for a while.
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


# Pool sizes. A streamed answer keeps the request's session (and so one pooled connection) until
# the stream ends, so the pool must hold one connection per concurrent stream: SQLAlchemy's default
# (5 + 10 overflow) made the 16th concurrent stream wait 30 s and fail (bench/, docs/performance.md).
# SQLite connections are local and cheap: a warm pool and no upper bound. A database server limits
# connections per server (PostgreSQL: 100 by default), shared by all workers: a bounded pool.
SQLITE_POOL = {"pool_size": 32, "max_overflow": -1}
SERVER_POOL = {"pool_size": 10, "max_overflow": 30, "pool_timeout": 30}


class LoopSideSQLite(aiosqlite.Connection):
    """aiosqlite, minus the thread hops that cannot block.

    aiosqlite sends every call (make a cursor, execute, fetch, close) to the connection's thread and
    back: four hand-offs per statement, each waiting for the GIL while the event loop is busy. That
    made the dozen statements that start a chat turn the longest part of the time to first token,
    and, under load, of the write lock's hold time. In WAL mode only taking the write lock can wait
    (on another writer) and only COMMIT does disk work (checkpoints), so: cursors, fetches, reads
    (``SELECT``), and every statement of a transaction that already holds the write lock
    (``BEGIN IMMEDIATE``, see :func:`transaction`; ``executemany`` too, e.g. a turn's two messages)
    run right here, in microseconds. BEGIN IMMEDIATE
    is tried here without waiting and goes to the thread only when another process holds the lock;
    COMMIT/ROLLBACK run here (WAL: no lock wait; synchronous=NORMAL: no fsync, except the occasional
    auto-checkpoint). Writes outside such a transaction still go to the thread. Each suspension
    inside a write transaction costs a full event-loop turn while the write lock is held: under load
    that, not SQL, was what made turn starts queue."""

    _write_held = False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        connection = self._connection
        if connection is None or not self._running:
            return await super()._execute(fn, *args, **kwargs)
        name = getattr(fn, "__name__", "")
        if name == "execute" and args and isinstance(args[0], str) and _head(args[0]) == "BEGIN IMMEDIATE":
            result = self._try_begin_here(fn, args, kwargs, connection)
            if result is None and _BEGIN_WITHOUT_WAITING.get():
                raise WriteLockBusy("the SQLite write lock is held")
            if result is None:  # another process holds the write lock: wait for it in the thread
                result = await super()._execute(fn, *args, **kwargs)
            self._write_held = True
            return result
        if name in ("commit", "rollback") and isinstance(getattr(fn, "__self__", None), sqlite3.Connection):
            self._write_held = False
            return fn(*args, **kwargs)  # WAL: never waits for a lock; synchronous=NORMAL: no fsync
        if self._inline(fn, args, connection):
            return fn(*args, **kwargs)
        return await super()._execute(fn, *args, **kwargs)

    @staticmethod
    def _try_begin_here(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                        connection: sqlite3.Connection) -> Any:
        """Take the write lock without waiting, or return None (the caller then waits in the thread)."""
        connection.execute("PRAGMA busy_timeout=0")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            return None
        finally:
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def _inline(self, fn: Callable[..., Any], args: tuple[Any, ...], connection: sqlite3.Connection) -> bool:
        name = getattr(fn, "__name__", "")
        owner = getattr(fn, "__self__", None)
        if name in ("cursor", "fetchone", "fetchmany", "fetchall"):
            return True
        if name == "close":
            return isinstance(owner, sqlite3.Cursor)
        if name in ("execute", "executemany") and isinstance(owner, sqlite3.Cursor) and args \
                and isinstance(args[0], str):
            head = _head(args[0])
            if head.startswith(("BEGIN", "COMMIT", "ROLLBACK", "END", "PRAGMA", "VACUUM", "ATTACH")):
                return False
            if name == "execute" and head.startswith("SELECT"):
                return True
            return self._write_held and connection.in_transaction
        return False


def _head(sql: str) -> str:
    return sql.lstrip()[:16].upper()


def _loop_side_sqlite(path: str, wal: bool) -> Callable[[], Any]:
    async def connect() -> aiosqlite.Connection:
        connector = partial(sqlite3.connect, path, timeout=30, check_same_thread=False)
        connection = (LoopSideSQLite if wal else aiosqlite.Connection)(connector, 64)
        connection._thread.daemon = True
        return await connection
    return connect


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        memory = not parsed.database or parsed.database == ":memory:"
        if not memory:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs = SQLITE_POOL | {"async_creator": _loop_side_sqlite(parsed.database, wal=True)} | kwargs
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "mysql":
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        return create_async_engine(parsed, pool_pre_ping=True, pool_recycle=3600, **SERVER_POOL | kwargs)
    return create_async_engine(parsed, pool_pre_ping=True, **SERVER_POOL | kwargs)


def _closes_inline(factory: async_sessionmaker[AsyncSession]) -> bool:
    bind = factory.kw.get("bind")
    return bind is not None and getattr(bind, "dialect", None) is not None and bind.dialect.name == "sqlite"


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """``async with factory() as session``, minus SQLAlchemy's cancellation shield on exit where the
    close cannot suspend (SQLite: it runs inline on the loop, see :class:`LoopSideSQLite`). The
    shield is a new task and three event-loop turns per session: under load, at ~10 ms a turn, that
    was most of a chat turn start's latency (docs/performance.md). Database servers keep it: their
    close is network I/O that a cancellation must not cut short."""
    session = factory()
    if not _closes_inline(factory):
        async with session:
            yield session
        return
    try:
        yield session
    finally:
        await session.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# SQLite has one writer at a time. A deferred transaction that reads and then writes fails at once
# ("database is locked", busy_timeout does not apply) when another writer committed after its read,
# and writers that do wait are woken by SQLite's busy handler, which sleeps up to 100 ms between
# tries. So on SQLite a unit of work takes the write lock up front (BEGIN IMMEDIATE), and writers of
# this process queue on an asyncio lock first: FIFO, handed over without sleeping.
_WRITE_LOCKS: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()
_HOLDING: ContextVar[bool] = ContextVar("agentcreator_sqlite_write", default=False)
WRITE_LOCK_WAIT_SECONDS = 30.0
_BEGIN_IMMEDIATE = text("BEGIN IMMEDIATE")  # built once: every write transaction runs it


def _sqlite_write_lock(factory: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    bind = factory.kw.get("bind")
    if bind is None or getattr(bind, "dialect", None) is None or bind.dialect.name != "sqlite":
        return None
    sync_engine = bind.sync_engine
    lock = _WRITE_LOCKS.get(sync_engine)
    if lock is None:
        lock = _WRITE_LOCKS[sync_engine] = asyncio.Lock()
    return lock


@asynccontextmanager
async def _sqlite_writer(lock: asyncio.Lock) -> AsyncIterator[None]:
    if _HOLDING.get():  # a unit of work nested in another one: SQLite decides, as before
        yield
        return
    acquired = False
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(WRITE_LOCK_WAIT_SECONDS):
            await lock.acquire()
            acquired = True
    token = _HOLDING.set(True)
    try:
        yield
    finally:
        _HOLDING.reset(token)
        if acquired:
            lock.release()


class WriteLockBusy(Exception):
    """BEGIN IMMEDIATE was asked not to wait and the write lock is held (see :func:`transaction`)."""


_BEGIN_WITHOUT_WAITING: ContextVar[bool] = ContextVar("agentcreator_sqlite_begin_now", default=False)


def _is_busy(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, WriteLockBusy):
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__
        seen += 1
    return False


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A short unit of work: commit on success, roll back on error, always close.

    SQLite: the write lock is taken first, right on the event loop, with no queueing when it is free.
    A unit of work whose statements run inline (see :class:`LoopSideSQLite`) never suspends between
    BEGIN IMMEDIATE and COMMIT, so the event loop itself keeps writers apart. Queueing on the asyncio
    lock (FIFO) is only the fallback for a busy lock: a writer suspended mid-transaction, or another
    process. Queueing every writer cost a full event-loop turn per handover: under load (a loop turn
    of ~10 ms at 200 streams) that capped the whole process at ~100 write transactions per second
    and made turn starts wait ~200 ms (docs/performance.md)."""
    lock = _sqlite_write_lock(factory)
    if lock is None:
        async with session_scope(factory) as session, session.begin():
            yield session
        return
    if not _HOLDING.get() and not lock.locked():
        started = False
        try:
            async with session_scope(factory) as session, session.begin():
                token = _BEGIN_WITHOUT_WAITING.set(True)
                try:
                    await session.execute(_BEGIN_IMMEDIATE)
                finally:
                    _BEGIN_WITHOUT_WAITING.reset(token)
                started = True
                holding = _HOLDING.set(True)
                try:
                    yield session
                finally:
                    _HOLDING.reset(holding)
            return
        except Exception as exc:
            if started or not _is_busy(exc):
                raise
    async with _sqlite_writer(lock), session_scope(factory) as session, session.begin():
        await session.execute(_BEGIN_IMMEDIATE)
        yield session
