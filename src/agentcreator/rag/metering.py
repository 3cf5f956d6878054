"""Every embedding call is metered: reserved, made, then recorded (usage + cost) or released, through
billing's one metered call (:func:`agentcreator.billing.metered.metered`).

Records are of kind ``embedding`` with tool ``embeddings`` (so the usage page's tools view shows them),
``provider``/``model`` from the embedder's ``model_id`` and the tokens embedded. They are attributed to
the knowledge base's owner and, when the call happens in a chat (``file_search`` in a run, automatic
retrieval before a turn), to the assistant, conversation, run and step. Cost comes from the price table
(a rate for ``provider/model``); the embedded local model costs 0 unless an admin prices
``local/all-minilm-l6-v2-int8``, and is never flagged unpriced.

Ingestion passes ``store``: the batch's vectors and progress are written in the same transaction as its
usage record, so a batch is charged exactly when its vectors are kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.billing.meter import AssistantBudget, Billing, CallTarget
from agentcreator.billing.metered import MeteredCall, metered
from agentcreator.billing.pricing import Cost
from agentcreator.db.session import session_scope, transaction
from agentcreator.llm.types import Usage
from agentcreator.rag.embeddings import Embedder, EmbeddingBatch

USAGE_KIND = "embedding"
USAGE_TOOL = "embeddings"


@dataclass(frozen=True)
class EmbeddingFor:
    """Whom an embedding call is for: the base's owner, and the chat it happens in, if any."""

    user_id: str
    assistant_id: str | None = None
    conversation_id: str | None = None
    run_id: str | None = None
    step_index: int | None = None
    message_id: str | None = None


StoreBatch = Callable[[AsyncSession, EmbeddingBatch], Awaitable[None]]
OnVectors = Callable[[EmbeddingBatch], None]


class MeteredEmbedder:
    def __init__(self, embedder: Embedder, billing: Billing) -> None:
        self.embedder = embedder
        self.billing = billing

    def target(self, who: EmbeddingFor) -> CallTarget:
        provider, _, model = self.embedder.model_id.partition("/")
        # The assistant is named for attribution; its own monthly budget is not charged for embeddings.
        assistant = AssistantBudget(who.assistant_id, "") if who.assistant_id else None
        return CallTarget(user_id=who.user_id, provider=provider, model=model, local=False, assistant=assistant,
                          conversation_id=who.conversation_id)

    async def cost(self, session: AsyncSession, target: CallTarget, usage: Usage) -> Cost:
        table = await self.billing.price_table(session, cached=True)
        if self.embedder.local and table.rate_for(target.provider, target.model) is None:
            return Cost(0, True, table.version, local=True)  # free until an admin sets a price
        return await self.billing.cost_of(session, target, usage)

    async def embed(self, texts: Sequence[str], who: EmbeddingFor, *, store: StoreBatch | None = None,
                    on_vectors: OnVectors | None = None) -> EmbeddingBatch:
        """Embed ``texts`` for ``who``: reserve (PaymentRequired when a budget has no room), embed with no
        session open, then record the usage (and ``store`` the vectors) in one transaction. When no
        budget can refuse the call, the reservation is made with the record, in that same transaction.
        ``on_vectors(batch)`` is called as soon as the vectors exist, before the usage is recorded (a
        search starts its dense scan meanwhile); the call still returns only once it is recorded."""
        texts = list(texts)
        target = self.target(who)
        async with session_scope(self.billing.sessions) as session:
            refusable = await self.billing.may_refuse(session, target)
        if not refusable:
            batch = await self.embedder.embed(texts)
            if on_vectors is not None:
                on_vectors(batch)
                await asyncio.sleep(0)  # the caller's work on them starts before the record's statements
            async with transaction(self.billing.sessions) as session:
                reservation = await self.billing.reserve(session, target, prompt_tokens=batch.tokens,
                                                         max_output_tokens=0)
                await self._record(session, MeteredCall(self.billing, target, reservation), target, batch, who, store)
            return batch
        estimate = await asyncio.to_thread(lambda: sum(self.embedder.count_tokens(t) for t in texts))
        async with metered(self.billing, target, prompt_tokens=estimate) as call:
            batch = await self.embedder.embed(texts)
            if on_vectors is not None:
                on_vectors(batch)
                await asyncio.sleep(0)  # the caller's work on them starts before the record's statements
            async with transaction(self.billing.sessions) as session:
                await self._record(session, call, target, batch, who, store)
        return batch

    async def _record(self, session: AsyncSession, call: MeteredCall, target: CallTarget, batch: EmbeddingBatch,
                      who: EmbeddingFor, store: StoreBatch | None) -> None:
        usage = Usage(input_tokens=batch.tokens, output_tokens=0, estimated=batch.estimated)
        if store is not None:
            await store(session, batch)
        await call.record(session, kind=USAGE_KIND, usage=usage, cost=await self.cost(session, target, usage),
                          message_id=who.message_id, run_id=who.run_id, step_index=who.step_index, tool=USAGE_TOOL)
