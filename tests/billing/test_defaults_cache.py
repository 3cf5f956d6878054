"""Turn starts read the platform's budget defaults from a per-process copy: an admin's save drops it
at once, including a copy read while the save happened."""

from __future__ import annotations

from typing import Any

import pytest

from agentcreator.billing import meter
from agentcreator.billing.meter import Billing
from agentcreator.core.config import BillingSettings


async def test_a_copy_read_while_an_admin_saves_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    billing = Billing(None, BillingSettings())  # type: ignore[arg-type]  # no session is used below
    saved: list[dict[str, Any]] = [{"user_daily_tokens": 1}]

    async def read(_session: Any, _key: str) -> dict[str, Any]:
        value = saved[0]
        if value == {"user_daily_tokens": 1}:  # the admin saves (and invalidates) while this read runs
            saved[0] = {"user_daily_tokens": 2}
            billing.invalidate_defaults()
        return value

    monkeypatch.setattr(meter.platform_settings, "get", read)
    assert (await billing.platform_defaults(None, cached=True)).user_daily_tokens == 1  # type: ignore[arg-type]
    assert (await billing.platform_defaults(None, cached=True)).user_daily_tokens == 2  # type: ignore[arg-type]
    saved[0] = {"user_daily_tokens": 3}  # written by another worker: this one keeps its copy for the TTL
    assert (await billing.platform_defaults(None, cached=True)).user_daily_tokens == 2  # type: ignore[arg-type]
    assert (await billing.platform_defaults(None)).user_daily_tokens == 3  # type: ignore[arg-type]  # uncached


async def test_may_refuse_without_a_read_needs_a_fresh_copy_of_the_defaults(app_state: Any) -> None:
    """The run loop asks before each round whether a budget can refuse; from the cached defaults and the
    overrides read at the turn's start, with no read, or None when the copy is stale."""
    from agentcreator.billing.calls import CallTarget
    from agentcreator.db.session import session_scope

    billing = app_state.billing
    target = CallTarget(user_id="u" * 32, provider="scripted", model="test-model")
    billing.invalidate_defaults()
    assert billing.may_refuse_cached(target, {}) is None  # nothing cached: read it
    async with session_scope(app_state.sessions) as session:
        assert await billing.may_refuse(session, target, user_overrides={}) is False  # reads and caches
    assert billing.may_refuse_cached(target, {}) is False
    assert billing.may_refuse_cached(target, {"user_daily_tokens": 1000}) is True
    billing.invalidate_defaults()  # an admin saved new defaults
    assert billing.may_refuse_cached(target, {}) is None
