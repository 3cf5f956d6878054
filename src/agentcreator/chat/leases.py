"""Crash-safe turns across processes: each process holds a lease, and any process finishes the turns
of a process whose lease has expired.

Every serving process registers a row in ``chat_workers`` with a lease it renews every
``chat.lease_renew_seconds``; each run records the process running it (``runs.worker_id``), and each
budget reservation the process holding it. One renewal covers all of a process's turns, so the cost
does not grow with the turns it runs. A process that dies (SIGKILL, OOM, a lost host) stops renewing:
``chat.lease_seconds`` later its turns are orphans. Every process sweeps for orphans every
``chat.sweep_seconds`` (jittered), at start-up, and when a stop is asked for a turn that runs nowhere
here. Finishing an orphan, in one transaction whose first statement is the claim (a conditional
UPDATE of the run: of concurrent sweeps only one proceeds):

- the answer keeps its last checkpoint (chat/checkpoints.py: the text; the open round's text part is
  added to the parts its finished steps saved) and becomes ``interrupted``;
- the open model call's usage is estimated (its prompt as counted at the round's start, the text it
  produced since) and recorded, and the run's reservations are settled on it (the rest given back);
- then a ``turn_stopped`` event is published on the turn's bus channel and the channel closed, so
  followers on any process see the end, and the conversation takes new turns (none is streaming).

A live process's turns and reservations are never touched: only expired leases are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.billing import Billing, CallTarget
from agentcreator.billing.meter import AssistantBudget
from agentcreator.chat import events as ev
from agentcreator.chat.bus import EventBus
from agentcreator.chat.parts import TextPart
from agentcreator.chat.turns import TurnRegistry
from agentcreator.core.config import ChatSettings
from agentcreator.db.session import session_scope, transaction
from agentcreator.db.types import utcnow
from agentcreator.llm.tokens import openai_token_counter
from agentcreator.llm.types import Usage
from agentcreator.repositories import runs as run_repo
from agentcreator.repositories import turns as turn_repo

log = logging.getLogger(__name__)
INTERRUPTED = {"code": "interrupted",
               "message": "The server writing this answer stopped; the answer is kept as far as it was saved."}


def new_worker_id() -> str:
    """This process's id: host, pid and a random part (a restarted process is a new worker)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class TurnLeases:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], billing: Billing, bus: EventBus,
                 turns: TurnRegistry, settings: ChatSettings, worker_id: str) -> None:
        self._sessions = sessions
        self._billing = billing
        self._bus = bus
        self._turns = turns
        self._settings = settings
        self.worker_id = worker_id
        self._tasks: list[asyncio.Task[None]] = []
        self._registered = False

    # --- this process's lease ------------------------------------------------------------------

    def _lease_until(self) -> Any:
        return utcnow() + timedelta(seconds=self._settings.lease_seconds)

    @property
    def stream_ttl_seconds(self) -> int:
        """How long a turn's Redis keys live without a renewal: a lease, a sweep, the replay retention."""
        return int(self._settings.lease_seconds + 2 * self._settings.sweep_seconds
                   + self._settings.replay_retention_seconds) + 1

    async def start(self, *, sweep: bool = True) -> None:
        """Register this process (before it serves), finish what dead processes left, start renewing
        and sweeping in the background."""
        async with transaction(self._sessions) as session:
            await run_repo.register_worker(session, self.worker_id, self._lease_until())
        self._registered = True
        if sweep:
            await self.sweep()
        self._tasks = [asyncio.create_task(self._renew_loop(), name="lease-renew"),
                       asyncio.create_task(self._sweep_loop(), name="lease-sweep")]

    async def close(self) -> None:
        """Stop renewing and give the lease up (call after this process's turns have ended)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._registered:
            async with transaction(self._sessions) as session:
                await run_repo.delete_worker(session, self.worker_id)
            self._registered = False

    async def renew(self) -> None:
        async with transaction(self._sessions) as session:
            if not await run_repo.renew_worker(session, self.worker_id, self._lease_until()):
                # Swept as dead (a stall longer than the lease): its turns were finished elsewhere.
                log.error("this process's lease %s was gone (stalled longer than %.0fs?); registering again",
                          self.worker_id, self._settings.lease_seconds)
                await run_repo.register_worker(session, self.worker_id, self._lease_until())
        channels = self._turns.channels()
        if channels:
            await self._bus.keep_alive(channels, self.stream_ttl_seconds)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.lease_renew_seconds)
            try:
                await self.renew()
            except Exception:  # the database or Redis went away for a moment: try again next time
                log.warning("renewing the lease of %s failed", self.worker_id, exc_info=True)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.sweep_seconds * random.uniform(0.5, 1.5))
            try:
                await self.sweep()
            except Exception:
                log.warning("sweeping for expired turn leases failed", exc_info=True)

    # --- other processes' turns ----------------------------------------------------------------

    async def sweep(self, conversation_id: str | None = None) -> int:
        """Finish the turns of processes whose lease expired (of one conversation, if given); then
        give back what those processes still hold and forget them. Returns the turns finished."""
        now = utcnow()
        async with session_scope(self._sessions) as session:
            orphans = await run_repo.orphaned_runs(session, now, conversation_id=conversation_id,
                                                   besides=self.worker_id)
            dead = [] if conversation_id else await run_repo.expired_workers(session, now)
        finished = 0
        for run in orphans:
            finished += await self.finish_orphan(run)
        for worker_id in dead:
            if worker_id == self.worker_id:
                continue
            async with transaction(self._sessions) as session:
                released = await self._billing.release_worker(session, worker_id)
                await run_repo.delete_worker(session, worker_id, expired_before=now)
            log.warning("process %s stopped renewing its lease: %d reservation(s) given back", worker_id, released)
        return finished

    async def finish_orphan(self, run: Any) -> int:
        """Finish one dead process's run (see the module's doc); 0 when another sweep did it first."""
        async with transaction(self._sessions) as session:
            message = await turn_repo.get_message(session, run.conversation_id, run.message_id)
            streaming = message is not None and message.status == "streaming"
            produced = (message.text or "")[run.open_from:] if streaming and message is not None else ""
            usage = Usage(input_tokens=run.prompt_tokens, output_tokens=openai_token_counter().count_text(produced),
                          estimated=True) if produced else None
            target = _target(run)
            cost = await self._billing.cost_of(session, target, usage)
            if not await run_repo.claim_orphan(session, run.id, cost_micros=cost.micros, error=INTERRUPTED):
                return 0
            if usage is not None:
                await self._billing.record(session, target, None, kind="chat", usage=usage, cost=cost,
                                           message_id=run.message_id, run_id=run.id,
                                           step_index=await run_repo.count_steps(session, run.id))
            tokens = usage.input_tokens + usage.output_tokens if usage else 0
            await self._billing.settle_run(session, run.id, cost.micros, tokens)
            snapshot = None
            if streaming and message is not None:
                if produced:  # the open round's text: checkpoints save the text, the steps save the parts
                    message.content = [*(message.content or []), TextPart(text=produced).model_dump(mode="json")]
                message.status, message.error = "interrupted", dict(INTERRUPTED)
                message.usage = _usage_doc(message.usage, usage, cost.micros, cost.doc())
                message.cost_micros = (message.cost_micros or 0) + cost.micros
                message.updated_at = utcnow()
                await session.flush()
                snapshot = ev.MessageSnapshot.model_validate(message)
        log.warning("finished turn %s of a dead process (%s) as interrupted", run.id, run.worker_id)
        if snapshot is not None and run.turn_id:
            await self._bus.end_turn(run.conversation_id, run.turn_id, ev.to_wire(ev.TurnStopped(message=snapshot)))
        return 1


def _target(run: Any) -> CallTarget:
    provider, _, model = run.model.partition("/")
    assistant = AssistantBudget(run.assistant_id, "") if run.assistant_id else None
    return CallTarget(user_id=run.owner_id, provider=provider, model=model, assistant=assistant,
                      conversation_id=run.conversation_id)


def _usage_doc(saved: dict[str, Any] | None, usage: Usage | None, micros: int,
               cost_doc: dict[str, Any]) -> dict[str, Any] | None:
    """The answer's usage: what its finished steps saved plus the estimate of the open call."""
    if usage is None:
        return saved
    doc = dict(saved or {})
    for name in ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens"):
        doc[name] = int(doc.get(name) or 0) + getattr(usage, name)
    doc["estimated"] = True
    doc["cost_micros"] = int(doc.get("cost_micros") or 0) + micros
    for key in ("price_version", "priced", "local"):
        if key in cost_doc and key not in doc:
            doc[key] = cost_doc[key]
    return doc
