"""One metered call: reserve before, then settle (record the usage) or release, always.

Every paid call goes through :func:`metered`: a model round of a run, a tool fee, a title, a summary::

    async with metered(billing, target, prompt_tokens=n, max_output_tokens=m) as call:
        response = await provider.complete(request)
        async with transaction(sessions) as session:
            await call.record(session, kind="title", usage=response.usage)

Leaving the block without :meth:`MeteredCall.record` (an error, a cancel) releases the reservation,
so budgets never keep a hold for a call that ended. A refusal (no room in a budget) raises
``PaymentRequired`` before anything is called.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.billing.budgets import checks_for
from agentcreator.billing.meter import Billing, CallTarget, Quote, Reservation
from agentcreator.billing.pricing import Cost, ceil_div
from agentcreator.db.session import transaction
from agentcreator.db.types import utcnow
from agentcreator.llm.types import Usage


@dataclass
class MeteredCall:
    billing: Billing
    target: CallTarget
    reservation: Reservation | None
    extra: list[Reservation] = field(default_factory=list)  # top-ups, settled with the call
    settled: bool = False
    run_id: str | None = None  # the run the top-ups are for
    fee_hold: Reservation | None = None  # held for fees charged after the call (also in ``extra``)

    async def record(self, session: AsyncSession, *, kind: str, usage: Usage | None,
                     tool_calls: dict[str, int] | None = None, cost: Cost | None = None, **links: Any) -> Cost:
        """Record the call's usage and settle its reservation(s) in the caller's transaction."""
        cost = await self.billing.record(session, self.target, self.reservation, kind=kind, usage=usage,
                                         tool_calls=tool_calls, cost=cost, **links)
        for extra in self.extra:
            await self.billing.settle_unused(session, extra)
        self.settled = True
        return cost

    async def top_up(self, *, prompt_tokens: int) -> None:
        """Reserve room for ``prompt_tokens`` more (e.g. tool definitions added after the first quote)."""
        if prompt_tokens > 0:
            self.extra.append(await self.billing.reserve_now(self.target, prompt_tokens=prompt_tokens,
                                                             max_output_tokens=0, run_id=self.run_id))

    async def hold_fees(self, micros: int) -> Reservation | None:
        """Hold ``micros`` more, with the call, for fees charged after it (the hosted tools a provider
        runs inside a model call); :meth:`settle_fees` charges what they came to."""
        if micros <= 0:
            return None
        hold = await reserve_fee(self.billing, self.target, micros, run_id=self.run_id)
        self.extra.append(hold)
        self.fee_hold = hold
        return hold

    async def settle_fees(self, session: AsyncSession, micros: int) -> None:
        """Settle the fee hold with the fees spent against it (the rest is released), in the caller's
        transaction; the fees' usage records are the caller's."""
        hold, self.fee_hold = self.fee_hold, None
        if hold is None:
            return
        await self.billing.settle_spent(session, hold, micros)
        self.extra = [extra for extra in self.extra if extra is not hold]

    async def release(self) -> None:
        if self.settled:
            return
        self.settled = True
        for reservation in [r for r in (self.reservation, *self.extra) if r is not None]:
            await self.billing.release(reservation)


@asynccontextmanager
async def metered(billing: Billing, target: CallTarget, *, prompt_tokens: int = 0, max_output_tokens: int = 0,
                  reservation: Reservation | None = None, fee_micros: int | None = None) -> AsyncIterator[MeteredCall]:
    """Reserve (unless ``reservation`` was made already, e.g. with the turn's first write), yield the
    call, release whatever was not settled. ``fee_micros``: a flat fee (a tool call) instead of tokens."""
    if reservation is None:
        if fee_micros is not None:
            reservation = await reserve_fee(billing, target, fee_micros) if fee_micros > 0 else None
        else:
            reservation = await billing.reserve_now(target, prompt_tokens=prompt_tokens,
                                                    max_output_tokens=max_output_tokens)
    call = MeteredCall(billing, target, reservation)
    try:
        yield call
    finally:
        if not call.settled:
            await asyncio.shield(call.release())


async def reserve_fee(billing: Billing, target: CallTarget, micros: int, *, run_id: str | None = None) -> Reservation:
    async with transaction(billing.sessions) as session:
        limits = await billing.user_limits(session, target.user_id, cached=True)
        assistant = target.assistant
        checks = checks_for(utcnow(), target.user_id, limits, assistant.id if assistant else None,
                            assistant.name if assistant else None, assistant.monthly_micros if assistant else None,
                            assistant.monthly_tokens if assistant else None)
        return await billing.reserve_quote(session, Quote(target.user_id, micros, 0, tuple(checks)), run_id=run_id)


def fee_micros(fees_per_thousand: int | None, calls: int = 1) -> int:
    """A tool's fee for ``calls`` calls, from its price per 1,000 calls (rounded up)."""
    return ceil_div((fees_per_thousand or 0) * calls, 1000)
