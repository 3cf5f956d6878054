"""What the app does at start-up for the hot path: the tokenizer is loaded before the first request,
and the start-up heap is frozen with server thresholds for the garbage collector."""

from __future__ import annotations

import gc
from pathlib import Path

from agentcreator.db.migrate import upgrade
from agentcreator.db.session import create_engine
from agentcreator.llm.tokens import openai_token_counter
from agentcreator.main import GC_THRESHOLDS, create_app
from tests.conftest import make_settings


async def test_startup_loads_the_tokenizer_and_freezes_its_heap(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'startup.db'}", tmp_path)
    app = create_app(settings)
    thresholds = gc.get_threshold()
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)  # the schema, as `agentcreator migrate` makes it
    finally:
        await engine.dispose()
    counter = openai_token_counter()
    saved = (counter._loaded, counter._encoding, counter._exact)
    counter._loaded, counter._encoding = False, None  # as in a fresh process (other tests may have loaded it)
    try:
        async with app.router.lifespan_context(app):
            assert counter._loaded and counter._encoding is not None
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        counter._loaded, counter._encoding, counter._exact = saved
        gc.unfreeze()
        gc.set_threshold(*thresholds)


async def test_redis_waits_for_a_free_connection_instead_of_failing(tmp_path: Path) -> None:
    """Every live stream's listener holds a Redis connection while it waits: with redis-py's default
    pool (100, fails at once) 200 streams on two workers failed with 'Too many connections'."""
    from redis.asyncio import BlockingConnectionPool

    from agentcreator.state import AppState

    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'redis.db'}", tmp_path,
                             redis_url="redis://127.0.0.1:6379/15", redis_max_connections=321)
    state = AppState.build(settings)
    try:
        assert state.redis is not None
        pool = state.redis.connection_pool
        assert isinstance(pool, BlockingConnectionPool) and pool.max_connections == 321
    finally:
        await state.close()
