"""Crash-safe turns with real server processes (chat/leases.py, chat/checkpoints.py, chat/drain.py):
SIGKILL and SIGTERM of uvicorn processes that share the leg's database (a scratch database of this
module's own: no other process of the test session sweeps it) and, for two processes, Redis."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from agentcreator.db.migrate import upgrade
from agentcreator.db.models import UserBudget
from agentcreator.db.session import create_engine
from agentcreator.db.types import utcnow
from tests.chat.app_process import (
    FAST,
    AppProcess,
    Followed,
    follow,
    new_conversation,
    register,
)
from tests.llm.openai_double import OpenAIDouble, Script

REDIS_URL = "redis://127.0.0.1:6379/14"
LEASE = float(FAST["CHAT__LEASE_SECONDS"])
SWEEP = float(FAST["CHAT__SWEEP_SECONDS"])
CHECKPOINT = float(FAST["CHAT__CHECKPOINT_SECONDS"])
WORDS = [f"w{i} " for i in range(80)]


def slow_script(delay: float = 0.05, words: list[str] = WORDS) -> Script:
    return Script(text=list(words), chunk_delay=delay)


@pytest.fixture(scope="module")
async def crash_database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A migrated scratch database for this module's server processes."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url or make_url(url).get_backend_name() == "sqlite":
        scratch_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('crashdb') / 'crash.db'}"
        engine = create_engine(scratch_url)
        await upgrade(engine)
        await engine.dispose()
        yield scratch_url
        return
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    name = f"{parsed.database}_crash_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    quoted = f"`{name}`" if backend == "mysql" else f'"{name}"'
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            charset = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if backend == "mysql" else ""
            await conn.execute(text(f"CREATE DATABASE {quoted}{charset}"))
    except Exception as exc:  # noqa: BLE001 - a skip or a failure
        await admin.dispose()
        if os.environ.get("REQUIRE_DATABASE") == "1":
            pytest.fail(f"database {backend} unreachable: {exc}")
        pytest.skip(f"database {backend} unreachable: {exc}")
    scratch_url = parsed.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(scratch_url)
    await upgrade(engine)
    await engine.dispose()
    try:
        yield scratch_url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
        await admin.dispose()


@pytest.fixture(scope="module")
async def db(crash_database: str) -> AsyncIterator[Any]:
    engine = create_engine(crash_database)
    yield engine
    await engine.dispose()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"redis unreachable: {exc}")
    finally:
        await redis.aclose()
    yield REDIS_URL


@pytest.fixture
def processes() -> Iterator[list[AppProcess]]:
    started: list[AppProcess] = []
    yield started
    for process in started:
        process.stop()


@pytest.fixture
def double(openai_double: OpenAIDouble) -> OpenAIDouble:
    openai_double.default_script = Script(text=["Fine", "."])
    return openai_double


def multi_process(url: str) -> None:
    if make_url(url).get_backend_name() == "sqlite":
        pytest.skip("several server processes run on PostgreSQL or MariaDB (the SQLite leg runs one)")


async def one(db: Any, sql: str, **params: Any) -> Any:
    async with db.connect() as conn:
        return (await conn.execute(text(sql), params)).mappings().first()


async def wait_until(predicate: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while True:
        if await predicate():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {within}s")
        await asyncio.sleep(0.05)


async def test_sigkill_of_the_owner_mid_stream_is_finished_by_the_other_process(
        crash_database: str, db: Any, redis_url: str, double: OpenAIDouble, tmp_path: Path,
        processes: list[AppProcess]) -> None:
    multi_process(crash_database)
    a = await AppProcess(crash_database, double.base_url, tmp_path, redis_url).start()
    b = await AppProcess(crash_database, double.base_url, tmp_path, redis_url).start()
    processes += [a, b]
    double.push(slow_script())
    async with httpx.AsyncClient(timeout=30) as client:
        headers = await register(client, a.url)
        conversation_id = await new_conversation(client, a.url, headers)
        sender = Followed()
        sending = asyncio.create_task(follow(client, a.url, headers, conversation_id, sender,
                                             post={"content": "Count"}))
        await asyncio.wait_for(sender.started.wait(), 10)
        follower = Followed()
        following = asyncio.create_task(follow(client, b.url, headers, conversation_id, follower))
        await wait_until(lambda: _async(len(follower.deltas) >= 20), 10, "the follower on B reads deltas")
        killed_at = time.monotonic()
        a.kill()
        await asyncio.wait_for(following, LEASE + 2 * SWEEP * 1.5 + 5)
        sending.cancel()

        assert follower.terminal is not None and follower.terminal_at is not None, "no terminal event on B"
        assert follower.terminal.type == "turn_stopped"
        # Within the lease's expiry plus one (jittered) sweep, and the renewal interval it may have just had.
        assert follower.terminal_at - killed_at <= LEASE + SWEEP * 1.5 + 1.5, follower.terminal_at - killed_at
        message = follower.terminal.data["message"]
        assert message["status"] == "interrupted"
        saved = message["text"]
        seen = follower.text
        # The saved answer is what the model sent, up to the last checkpoint before the kill.
        assert saved and seen.startswith(saved), (saved, seen)
        assert [part["text"] for part in message["content"] if part["type"] == "text"] == [saved]
        assert len(saved) >= len(follower.text_until(killed_at - CHECKPOINT - 0.5)), (saved, seen)
        row = await one(db, "SELECT text, status FROM messages WHERE id = :id", id=message["id"])
        assert row["status"] == "interrupted" and row["text"] == saved

        # Usage for the produced tokens is estimated and recorded; the budgets hold nothing for it.
        usage = await one(db, "SELECT output_tokens, input_tokens, estimated FROM usage_records WHERE message_id = :id",
                          id=message["id"])
        assert usage is not None and usage["output_tokens"] > 0 and usage["input_tokens"] > 0 and usage["estimated"]
        run = await one(db, "SELECT id, status, ended_by FROM runs WHERE message_id = :id", id=message["id"])
        assert (run["status"], run["ended_by"]) == ("incomplete", "interrupted")
        left = await one(db, "SELECT count(*) AS n FROM budget_reservations WHERE run_id = :id", id=run["id"])
        assert left["n"] == 0
        ledger = await one(db, "SELECT sum(reserved_tokens) AS reserved, sum(spent_tokens) AS spent FROM budget_ledger")
        assert ledger["reserved"] == 0 and ledger["spent"] > 0

        # The conversation takes a new send right after, through the surviving process.
        again = await client.post(f"{b.url}/api/conversations/{conversation_id}/messages", headers=headers,
                                  json={"content": "Again"})
        assert again.status_code == 201, again.text
        assert again.json()["assistant_message"]["status"] == "complete"


async def _async(value: bool) -> bool:
    return value


async def test_restarting_one_process_leaves_the_other_ones_turn_alone(
        crash_database: str, db: Any, redis_url: str, double: OpenAIDouble, tmp_path: Path,
        processes: list[AppProcess]) -> None:
    multi_process(crash_database)
    a = await AppProcess(crash_database, double.base_url, tmp_path, redis_url).start()
    b = await AppProcess(crash_database, double.base_url, tmp_path, redis_url).start()
    processes += [a, b]
    # It streams, then waits (as a slow model may) for as long as the restart takes; then it is stopped.
    double.push(Script(text=list(WORDS), chunk_delay=0.02, stall_after=15, stall_seconds=60))
    async with httpx.AsyncClient(timeout=30) as client:
        headers = await register(client, b.url)
        conversation_id = await new_conversation(client, b.url, headers)
        sender = Followed()
        sending = asyncio.create_task(follow(client, b.url, headers, conversation_id, sender,
                                             post={"content": "Count"}))
        await asyncio.wait_for(sender.started.wait(), 10)
        follower = Followed()
        following = asyncio.create_task(follow(client, a.url, headers, conversation_id, follower))
        await asyncio.wait_for(follower.started.wait(), 10)
        run = await one(db, "SELECT id, message_id FROM runs WHERE conversation_id = :c", c=conversation_id)
        held = await one(db, "SELECT count(*) AS n, sum(tokens) AS tokens FROM budget_reservations WHERE run_id = :id",
                         id=run["id"])
        assert held["n"] >= 1
        # The user is now at their limit: what B's turn holds leaves no room for another answer.
        owner = await one(db, "SELECT owner_id FROM runs WHERE id = :id", id=run["id"])
        async with db.begin() as conn:
            await conn.execute(UserBudget.__table__.insert(), {
                "user_id": owner["owner_id"], "overrides": {"user_daily_tokens": int(held["tokens"]) + 10},
                "created_at": utcnow(), "updated_at": utcnow()})
        other_id = await new_conversation(client, b.url, headers)
        refused = await client.post(f"{a.url}/api/conversations/{other_id}/messages", headers=headers,
                                    json={"content": "More"})
        assert refused.status_code == 402, refused.text

        # A rolling restart of A: SIGTERM (nothing of its own to drain), then a new process A.
        a.terminate()
        await a.wait_exit(10)
        a2 = await AppProcess(crash_database, double.base_url, tmp_path, redis_url).start()
        processes.append(a2)
        await asyncio.sleep(LEASE + SWEEP * 1.5)  # a full lease and sweep on the new process

        message = await one(db, "SELECT status FROM messages WHERE id = :id", id=run["message_id"])
        assert message["status"] == "streaming"
        state = await one(db, "SELECT status FROM runs WHERE id = :id", id=run["id"])
        assert state["status"] == "in_progress"
        still = await one(db, "SELECT count(*) AS n FROM budget_reservations WHERE run_id = :id", id=run["id"])
        assert still["n"] == held["n"]
        busy = await client.post(f"{a2.url}/api/conversations/{conversation_id}/messages", headers=headers,
                                 json={"content": "Me too"})
        assert busy.status_code == 409, busy.text
        assert busy.json()["error"]["code"] == "turn_in_progress"
        still_refused = await client.post(f"{a2.url}/api/conversations/{other_id}/messages", headers=headers,
                                          json={"content": "More"})
        assert still_refused.status_code == 402, still_refused.text  # no budget overspent across the restart

        assert not sending.done() and sender.terminal is None  # B's sender still streams
        # A's follower was let go by A's drain (its stream ended without a terminal event): it resumes on A2.
        await asyncio.wait_for(following, 5)
        assert follower.terminal is None and follower.deltas
        resumed = Followed()
        resuming = asyncio.create_task(follow(client, a2.url, headers, conversation_id, resumed))
        # A stop through A2 reaches the live owner B through the bus (nothing is finished by A2 itself).
        stop = await client.post(f"{a2.url}/api/conversations/{conversation_id}/stop", headers=headers)
        assert stop.status_code == 200 and stop.json()["stopped"] is True
        await asyncio.wait_for(sending, 10)
        await asyncio.wait_for(resuming, 10)
        assert sender.terminal is not None and sender.terminal.type == "turn_stopped"
        assert resumed.terminal is not None and resumed.terminal.data["message"]["status"] == "stopped"
        assert sender.terminal.data["message"]["text"] == "".join(WORDS[:15])
        done = await one(db, "SELECT count(*) AS n FROM budget_reservations WHERE run_id = :id", id=run["id"])
        assert done["n"] == 0


async def test_one_process_sigkill_mid_answer_keeps_the_partial_text(
        crash_database: str, db: Any, double: OpenAIDouble, tmp_path: Path, processes: list[AppProcess]) -> None:
    a = await AppProcess(crash_database, double.base_url, tmp_path).start()
    processes.append(a)
    double.push(slow_script())
    async with httpx.AsyncClient(timeout=30) as client:
        headers = await register(client, a.url)
        conversation_id = await new_conversation(client, a.url, headers)
        seen = Followed()
        sending = asyncio.create_task(follow(client, a.url, headers, conversation_id, seen, post={"content": "Go"}))
        await wait_until(lambda: _async(len(seen.deltas) >= 25), 10, "deltas stream")
        killed_at = time.monotonic()
        a.kill()
        await asyncio.wait_for(sending, 5)
        run = await one(db, "SELECT message_id FROM runs WHERE conversation_id = :c", c=conversation_id)
        partial = await one(db, "SELECT text, status FROM messages WHERE id = :id", id=run["message_id"])
        assert partial["status"] == "streaming" and partial["text"], partial
        assert seen.text.startswith(partial["text"])
        assert len(partial["text"]) >= len(seen.text_until(killed_at - CHECKPOINT - 0.5))

        restarted = await AppProcess(crash_database, double.base_url, tmp_path).start()
        processes.append(restarted)

        async def finished() -> bool:
            row = await one(db, "SELECT status FROM messages WHERE id = :id", id=run["message_id"])
            return bool(row["status"] == "interrupted")
        await wait_until(finished, LEASE + SWEEP * 1.5 + 3, "the restarted process finishes the dead turn")
        after = await one(db, "SELECT text FROM messages WHERE id = :id", id=run["message_id"])
        assert after["text"] == partial["text"]
        again = await client.post(f"{restarted.url}/api/conversations/{conversation_id}/messages", headers=headers,
                                  json={"content": "Again"})
        assert again.status_code == 201, again.text


async def test_sigterm_drains_the_live_stream_and_refuses_new_turns(
        crash_database: str, db: Any, double: OpenAIDouble, tmp_path: Path, processes: list[AppProcess]) -> None:
    drain_seconds = 1.5
    a = await AppProcess(crash_database, double.base_url, tmp_path,
                         extra_env={"CHAT__DRAIN_SECONDS": str(drain_seconds)}).start()
    processes.append(a)
    double.push(slow_script(0.1))  # ~8 s: longer than the drain
    async with httpx.AsyncClient(timeout=30) as client:
        headers = await register(client, a.url)
        conversation_id = await new_conversation(client, a.url, headers)
        other_id = await new_conversation(client, a.url, headers)
        seen = Followed()
        sending = asyncio.create_task(follow(client, a.url, headers, conversation_id, seen, post={"content": "Go"}))
        await wait_until(lambda: _async(len(seen.deltas) >= 5), 10, "deltas stream")
        signalled = time.monotonic()
        a.terminate()
        await asyncio.sleep(0.2)
        refused = await client.post(f"{a.url}/api/conversations/{other_id}/messages", headers=headers,
                                    json={"content": "New"})
        assert refused.status_code == 503, refused.text
        assert refused.headers.get("retry-after") and refused.json()["error"]["code"] == "shutting_down"
        ready = await client.get(f"{a.url}/health/ready")
        assert ready.status_code == 503
        await asyncio.wait_for(sending, drain_seconds + 5)
        assert seen.terminal is not None and seen.terminal.type == "turn_stopped"
        message = seen.terminal.data["message"]
        assert message["status"] == "interrupted" and message["text"] == seen.text
        await a.wait_exit(drain_seconds + 8)
        assert time.monotonic() - signalled <= drain_seconds + 8
        row = await one(db, "SELECT text, status FROM messages WHERE id = :id", id=message["id"])
        assert (row["text"], row["status"]) == (seen.text, "interrupted")
        other = await one(db, "SELECT count(*) AS n FROM messages WHERE conversation_id = :c", c=other_id)
        assert other["n"] == 0  # the refused send saved nothing
        held = await one(db, "SELECT count(*) AS n FROM budget_reservations")
        assert held["n"] == 0
