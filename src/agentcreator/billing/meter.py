"""The billing object chat/ uses (``AppState.billing``): price calls from the current price table,
reserve the most a call can cost before it is made, and settle to the real cost afterwards.

Every call follows reserve -> call -> :meth:`Billing.record` (which writes the usage record and
settles in the caller's transaction) or :meth:`Billing.release` when the call never happened.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing.budgets import BudgetCheck, UserLimits, checks_for, refusal
from agentcreator.billing.calls import (
    USEFUL_REPLY_TOKENS,
    AssistantBudget,
    BudgetedAssistant,
    CallTarget,
    Quote,
    Reservation,
)
from agentcreator.billing.pricing import (
    DEFAULT_MODEL_RATES,
    DEFAULT_TOOL_FEES,
    Cost,
    PriceTable,
    max_call_cost,
    price_call,
)
from agentcreator.core.config import BillingSettings
from agentcreator.core.errors import PaymentRequired
from agentcreator.db.session import transaction
from agentcreator.db.types import utcnow
from agentcreator.llm.types import Usage
from agentcreator.repositories import budgets as budget_repo
from agentcreator.repositories import platform_settings
from agentcreator.repositories import usage as usage_repo
from agentcreator.repositories import usage_prices as price_repo
from agentcreator.repositories.budgets import LedgerKey

__all__ = ["USEFUL_REPLY_TOKENS", "AssistantBudget", "Billing", "BudgetedAssistant", "CallTarget", "Quote",
           "Reservation", "usage_doc"]
log = logging.getLogger(__name__)
BUDGET_DEFAULTS_KEY = "budget_defaults"
# The price table is read from the database at most this often per process. An admin's edit through
# the API invalidates this process's copy at once; other workers see it within this many seconds.
# (Past costs never change: each usage record names the price version it was priced with.)
PRICE_TABLE_TTL_SECONDS = 5.0
# The platform's budget defaults, likewise: the admin route invalidates this process's copy at once,
# other workers read them again within this many seconds. Per-user overrides are always read.
BUDGET_DEFAULTS_TTL_SECONDS = 5.0


@dataclass
class _Cache:
    stamp: tuple[int, datetime] | None = None
    table: PriceTable = field(default_factory=lambda: PriceTable(None))
    fresh_until: float = 0.0  # time.monotonic()


class Billing:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: BillingSettings,
                 worker_id: str | None = None) -> None:
        self._sessions = sessions
        # The process holding the reservations made here: a sweep settles a dead process's (chat/leases).
        self.worker_id = worker_id
        self._settings = settings
        self._cache = _Cache()
        self._defaults: tuple[UserLimits, float] | None = None  # (limits, fresh until: time.monotonic())
        self._defaults_generation = 0  # bumped by invalidate_defaults: a read that started before is not kept
        self._unpriced_logged: set[tuple[str, str, int | None]] = set()

    # --- prices --------------------------------------------------------------------------------

    async def price_table(self, session: AsyncSession, *, cached: bool = False) -> PriceTable:
        """The current price table, checked against the latest version (reloaded when it changed).
        ``cached`` (the chat hot path): the copy checked less than :data:`PRICE_TABLE_TTL_SECONDS` ago
        is used as is, unless :meth:`invalidate_prices` was called since."""
        if cached and (table := self.cached_price_table()) is not None:
            return table
        version = await price_repo.latest_version(session)
        if version is None:  # emptied by hand: put the defaults back rather than price everything 0
            version = await price_repo.add_version(session, created_by=None, note="Default list prices",
                                                   models=DEFAULT_MODEL_RATES, tools=DEFAULT_TOOL_FEES)
            # Not cached: the caller's transaction may still roll this version back (a read session).
            return await price_repo.load_table(session, version)
        stamp = (version.id, version.created_at)
        table = self._cache.table if self._cache.stamp == stamp else await price_repo.load_table(session, version)
        self._cache = _Cache(stamp, table, time.monotonic() + PRICE_TABLE_TTL_SECONDS)
        return table

    def cached_price_table(self) -> PriceTable | None:
        """The copy :meth:`price_table` (``cached=True``) would return without a read, or None when it
        needs one."""
        if self._cache.stamp is not None and time.monotonic() < self._cache.fresh_until:
            return self._cache.table
        return None

    def invalidate_prices(self) -> None:
        """Forget the cached price table (an admin saved a new version)."""
        self._cache = _Cache()

    # --- budgets -------------------------------------------------------------------------------

    async def platform_defaults(self, session: AsyncSession, *, cached: bool = False) -> UserLimits:
        """The platform's budget defaults (settings, overlaid with what an admin saved). ``cached``
        (the chat hot path): the copy read less than :data:`BUDGET_DEFAULTS_TTL_SECONDS` ago, unless
        :meth:`invalidate_defaults` was called since."""
        if cached and self._defaults is not None and time.monotonic() < self._defaults[1]:
            return self._defaults[0]
        generation = self._defaults_generation
        saved = await platform_settings.get(session, BUDGET_DEFAULTS_KEY)
        base = UserLimits(self._settings.user_daily_micros, self._settings.user_monthly_micros,
                          self._settings.user_daily_tokens, self._settings.user_monthly_tokens).as_dict()
        limits = UserLimits.merged(base, saved if isinstance(saved, dict) else {})
        if cached and generation == self._defaults_generation:
            self._defaults = (limits, time.monotonic() + BUDGET_DEFAULTS_TTL_SECONDS)
        return limits

    def invalidate_defaults(self) -> None:
        """Forget the cached budget defaults (an admin saved new ones)."""
        self._defaults = None
        self._defaults_generation += 1

    async def user_limits(self, session: AsyncSession, user_id: str, *, cached: bool = False,
                          overrides: dict[str, Any] | None = None) -> UserLimits:
        """The user's effective limits: the platform defaults (``cached``: see :meth:`platform_defaults`)
        overlaid with the user's overrides, which are always read (``overrides``: as the caller just
        read them, ``{}`` for none)."""
        defaults = await self.platform_defaults(session, cached=cached)
        if overrides is None:
            overrides = await budget_repo.get_overrides(session, user_id)
        return UserLimits.merged(defaults.as_dict(), overrides)

    async def may_refuse(self, session: AsyncSession, target: CallTarget, *,
                         user_overrides: dict[str, Any] | None = None) -> bool:
        """Whether a budget this call counts against has a limit (the budgets of :meth:`quote`'s
        checks): a call that no budget can refuse may go out before its reservation is written."""
        limits = await self.user_limits(session, target.user_id, cached=True, overrides=user_overrides)
        return _has_limit(limits, target)

    def may_refuse_cached(self, target: CallTarget, user_overrides: dict[str, Any]) -> bool | None:
        """:meth:`may_refuse` without a read, from the cached defaults and the overrides the caller read
        (None when the defaults' copy is stale: ask :meth:`may_refuse`)."""
        if self._defaults is None or time.monotonic() >= self._defaults[1]:
            return None
        return _has_limit(UserLimits.merged(self._defaults[0].as_dict(), user_overrides), target)

    async def quote(self, session: AsyncSession, target: CallTarget, *, prompt_tokens: int,
                    max_output_tokens: int, now: datetime | None = None,
                    user_overrides: dict[str, Any] | None = None, min_output_tokens: int = 0) -> Quote:
        """What :meth:`reserve_quote` will hold for this call (reads only: no write lock needed).
        ``user_overrides``: the user's budget overrides, if the caller read them already.
        ``min_output_tokens``: the reply may be capped down to this many tokens to fit a budget."""
        table = await self.price_table(session, cached=True)
        micros = max_call_cost(table, target.provider, target.model, prompt_tokens=prompt_tokens,
                               max_output_tokens=max_output_tokens, local=target.local)
        rate = None if target.local else table.rate_for(target.provider, target.model)
        limits = await self.user_limits(session, target.user_id, cached=True, overrides=user_overrides)
        assistant = target.assistant
        checks = checks_for(now or utcnow(), target.user_id, limits,
                            assistant.id if assistant else None, assistant.name if assistant else None,
                            assistant.monthly_micros if assistant else None,
                            assistant.monthly_tokens if assistant else None)
        return Quote(target.user_id, micros, prompt_tokens + max_output_tokens, tuple(checks), prompt_tokens,
                     max_output_tokens, min(min_output_tokens, max_output_tokens), rate.input if rate else 0,
                     rate.output if rate else 0)

    async def reserve_quote(self, session: AsyncSession, quote: Quote, *, run_id: str | None = None) -> Reservation:
        """Reserve ``quote`` against every budget it counts towards, in the caller's write transaction;
        raise PaymentRequired (the caller rolls back) if one would be exceeded.

        A quote with ``min_output_tokens`` whose full reply allowance does not fit is reserved with the
        reply capped to what the tightest budget has left (:attr:`Reservation.capped_output_tokens`),
        when that is at least ``min_output_tokens``; the same conditional UPDATEs guard it, so nothing
        is ever overspent.

        One conditional UPDATE per budget when its ledger row exists (the usual case). On MariaDB the
        row is made sure of first: an UPDATE that finds no row takes a gap lock under repeatable read,
        and two such transactions inserting the row next would deadlock."""
        upsert_first = session.get_bind().dialect.name == "mysql"
        if _one_writer(session) and _unlimited(quote):
            return await self._reserve_unlimited(session, quote, run_id)
        done: list[BudgetCheck] = []
        for check in quote.checks:
            if upsert_first:
                await budget_repo.ensure_row(session, check.key, check.start, check.end)
            reserved = await budget_repo.try_reserve(session, check.key, quote.micros, quote.tokens,
                                                     check.limit_micros, check.limit_tokens)
            if not reserved and not upsert_first:  # no row yet (or it was created meanwhile), or no room
                await budget_repo.ensure_row(session, check.key, check.start, check.end)
                reserved = await budget_repo.try_reserve(session, check.key, quote.micros, quote.tokens,
                                                         check.limit_micros, check.limit_tokens)
            if not reserved and quote.min_output_tokens > 0:
                return await self._reserve_capped(session, quote, done, check, run_id)
            if not reserved:
                raise await _refusal(session, check, quote)
            done.append(check)
        keys = [check.key for check in quote.checks]
        reservation_id = await budget_repo.add_reservation(session, quote.user_id, keys, quote.micros, quote.tokens,
                                                           run_id=run_id, worker_id=self.worker_id)
        return Reservation(reservation_id, tuple(keys), quote.micros, quote.tokens)

    async def _reserve_capped(self, session: AsyncSession, quote: Quote, done: list[BudgetCheck],
                              refused: BudgetCheck, run_id: str | None) -> Reservation:
        """The full allowance did not fit ``refused``: give back what ``done`` took, cap the reply to the
        room the tightest budget has left, and reserve that (or refuse when not even the smallest useful
        reply fits)."""
        for check in done:
            await budget_repo.apply(session, (check.key,), release_micros=quote.micros, release_tokens=quote.tokens,
                                    spent_micros=0, spent_tokens=0)
        room = quote.output_tokens
        for check in quote.checks:
            if check.limit_micros is None and check.limit_tokens is None:
                continue
            await budget_repo.ensure_row(session, check.key, check.start, check.end)
            fits = quote.output_room(check, await budget_repo.get_row(session, check.key))
            if fits is not None:
                room = min(room, fits)
        if room < quote.min_output_tokens:
            raise await _refusal(session, refused, quote.with_output(quote.min_output_tokens))
        reservation = await self.reserve_quote(session, quote.with_output(room), run_id=run_id)
        return replace(reservation, capped_output_tokens=room) if room < quote.output_tokens else reservation

    async def _reserve_unlimited(self, session: AsyncSession, quote: Quote, run_id: str | None) -> Reservation:
        """SQLite, no limit on any budget: every existing row in one UPDATE (nothing can refuse it),
        then the rows missing so far. SQLite has one writer at a time, so the order in which a multi-row
        statement touches rows cannot deadlock; on database servers each budget is updated on its own,
        always in the same order."""
        keys = [check.key for check in quote.checks]
        updated = await budget_repo.reserve_many(session, keys, quote.micros, quote.tokens)
        for check in quote.checks:
            if check.key not in updated:  # its first call of the period
                await budget_repo.create_reserved(session, check.key, check.start, check.end, quote.micros,
                                                  quote.tokens)
        reservation_id = await budget_repo.add_reservation(session, quote.user_id, keys, quote.micros, quote.tokens,
                                                           run_id=run_id, worker_id=self.worker_id)
        return Reservation(reservation_id, tuple(keys), quote.micros, quote.tokens)

    async def reserve(self, session: AsyncSession, target: CallTarget, *, prompt_tokens: int,
                      max_output_tokens: int, now: datetime | None = None, run_id: str | None = None,
                      min_output_tokens: int = 0) -> Reservation:
        """:meth:`quote` and :meth:`reserve_quote` in the caller's transaction."""
        quote = await self.quote(session, target, prompt_tokens=prompt_tokens,
                                 max_output_tokens=max_output_tokens, now=now, min_output_tokens=min_output_tokens)
        return await self.reserve_quote(session, quote, run_id=run_id)

    async def reserve_now(self, target: CallTarget, *, prompt_tokens: int, max_output_tokens: int,
                          run_id: str | None = None, min_output_tokens: int = 0) -> Reservation:
        """:meth:`reserve` in a transaction of its own (title and summary calls, a run's later rounds)."""
        async with transaction(self._sessions) as session:
            return await self.reserve(session, target, prompt_tokens=prompt_tokens, max_output_tokens=max_output_tokens,
                                      run_id=run_id, min_output_tokens=min_output_tokens)

    async def _settle(self, session: AsyncSession, reservation: Reservation, micros: int, tokens: int) -> None:
        still_open = await budget_repo.take_reservation(session, reservation.id)
        keys = reservation.keys
        # SQLite: all rows in one statement (see _reserve_unlimited); database servers: one at a time.
        together = _one_writer(session) and 0 < len(keys) <= budget_repo.MAX_KEYS
        for group in [keys] if together else [(key,) for key in keys]:
            await budget_repo.apply(session, group, release_micros=reservation.micros if still_open else 0,
                                    release_tokens=reservation.tokens if still_open else 0,
                                    spent_micros=micros, spent_tokens=tokens)

    async def cost_of(self, session: AsyncSession, target: CallTarget, usage: Usage | None,
                      tool_calls: dict[str, int] | None = None) -> Cost:
        """The cost of a call from the current price table (0 when nothing came back)."""
        table = await self.price_table(session, cached=True)
        if usage is None:
            return Cost(0, True, table.version, local=target.local)
        cost = price_call(table, target.provider, target.model, input_tokens=usage.input_tokens,
                          cached_input_tokens=usage.cached_input_tokens, output_tokens=usage.output_tokens,
                          tool_calls=tool_calls, local=target.local)
        if not cost.priced and (target.provider, target.model, table.version) not in self._unpriced_logged:
            # Once per model and price version per process: the usage records flag every such call.
            self._unpriced_logged.add((target.provider, target.model, table.version))
            log.warning("no price for %s/%s in price version %s: counted as 0 (usage records are flagged "
                        "unpriced; logged once per model and price version)", target.provider, target.model,
                        table.version)
        return cost

    async def record(self, session: AsyncSession, target: CallTarget, reservation: Reservation | None, *,
                     kind: str, usage: Usage | None, message_id: str | None = None,
                     tool_calls: dict[str, int] | None = None, cost: Cost | None = None,
                     run_id: str | None = None, step_index: int | None = None, tool: str | None = None) -> Cost:
        """Price the call (unless ``cost`` is given, from :meth:`cost_of`), add its usage record and
        settle its reservation, in the caller's transaction. No usage (nothing came back) costs
        nothing: the reservation is simply released."""
        if cost is None:
            cost = await self.cost_of(session, target, usage, tool_calls)
        if usage is not None:
            await usage_repo.add_record(session, {
                "user_id": target.user_id, "assistant_id": target.assistant.id if target.assistant else None,
                "conversation_id": target.conversation_id, "message_id": message_id, "kind": kind,
                "provider": target.provider, "model": target.model, "input_tokens": usage.input_tokens,
                "cached_input_tokens": usage.cached_input_tokens, "output_tokens": usage.output_tokens,
                "reasoning_tokens": usage.reasoning_tokens, "tool_calls": sum((tool_calls or {}).values()),
                "estimated": usage.estimated, "cost_micros": cost.micros, "price_version": cost.version,
                "priced": cost.priced, "run_id": run_id, "step_index": step_index, "tool": tool})
        if reservation is not None:
            tokens = usage.input_tokens + usage.output_tokens if usage is not None else 0
            await self._settle(session, reservation, cost.micros, tokens)
        return cost

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    async def settle_unused(self, session: AsyncSession, reservation: Reservation) -> None:
        """Give a reservation back in full, in the caller's transaction."""
        await self._settle(session, reservation, 0, 0)

    async def settle_spent(self, session: AsyncSession, reservation: Reservation, micros: int) -> None:
        """Settle a hold with ``micros`` spent against it (fees recorded after the fact), in the caller's
        transaction."""
        await self._settle(session, reservation, micros, 0)

    async def tool_fee(self, session: AsyncSession, price_key: str | None) -> int | None:
        """A tool's fee per 1,000 calls in the current price table (None: no price set: free)."""
        if price_key is None:
            return None
        table = await self.price_table(session, cached=True)
        return table.tools.get(price_key)

    async def release(self, reservation: Reservation) -> None:
        """Give a reservation back in full (the call was never made)."""
        async with transaction(self._sessions) as session:
            await self._settle(session, reservation, 0, 0)

    async def recover(self) -> int:
        """Release every open reservation (one process alone, before it serves: ``agentcreator recover``).
        With several processes, a dead process's reservations are settled by :meth:`settle_run` and
        :meth:`release_worker` instead (chat/leases.py), never a live one's."""
        async with transaction(self._sessions) as session:
            rows = await budget_repo.open_reservations(session)
            for row in rows:
                await self._settle(session, _reservation(row), 0, 0)
        return len(rows)

    async def settle_run(self, session: AsyncSession, run_id: str, micros: int, tokens: int) -> int:
        """Settle a dead run's open reservations in the caller's transaction: ``micros``/``tokens``
        (its estimated usage) are charged on the largest, the others given back. Returns how many."""
        rows = await budget_repo.reservations_of_run(session, run_id)
        for index, row in enumerate(rows):
            await self._settle(session, _reservation(row), micros if index == 0 else 0, tokens if index == 0 else 0)
        return len(rows)

    async def release_worker(self, session: AsyncSession, worker_id: str) -> int:
        """Give back whatever a dead process still holds (after its runs were settled)."""
        rows = await budget_repo.reservations_of_worker(session, worker_id)
        for row in rows:
            await self._settle(session, _reservation(row), 0, 0)
        return len(rows)


async def _refusal(session: AsyncSession, check: BudgetCheck, quote: Quote) -> PaymentRequired:
    row = await budget_repo.get_row(session, check.key)
    return refusal(check, spent_micros=row.spent_micros if row else 0,
                   reserved_micros=row.reserved_micros if row else 0,
                   spent_tokens=row.spent_tokens if row else 0,
                   reserved_tokens=row.reserved_tokens if row else 0,
                   needed_micros=quote.micros, needed_tokens=quote.tokens)


def _reservation(row: Any) -> Reservation:
    return Reservation(row.id, tuple(LedgerKey(*key) for key in row.keys), row.micros, row.tokens)


def _one_writer(session: AsyncSession) -> bool:
    """SQLite: one writer at a time, so a statement touching several ledger rows cannot deadlock."""
    return session.get_bind().dialect.name == "sqlite"


def _unlimited(quote: Quote) -> bool:
    return 0 < len(quote.checks) <= budget_repo.MAX_KEYS and all(
        check.limit_micros is None and check.limit_tokens is None for check in quote.checks)


def usage_doc(usage: Usage, cost: Cost, extra: dict[str, Any]) -> dict[str, Any]:
    return usage.model_dump() | extra | cost.doc()


def _has_limit(limits: UserLimits, target: CallTarget) -> bool:
    """Whether any budget the call counts against has a limit (the user's, or its assistant's)."""
    assistant = target.assistant
    return any(value is not None for value in limits.as_dict().values()) or (
        assistant is not None and (assistant.monthly_micros is not None or assistant.monthly_tokens is not None))
