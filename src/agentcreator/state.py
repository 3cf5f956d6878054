"""Process-wide services, built once in the app's lifespan and reached through ``app.state``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agentcreator.billing import Billing
from agentcreator.chat.bus import EventBus, MemoryEventBus, RedisEventBus
from agentcreator.chat.service import ChatService
from agentcreator.chat.turns import TurnRegistry
from agentcreator.core.config import Settings
from agentcreator.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from agentcreator.core.security import PasswordHasher, SecretBox, TokenSigner
from agentcreator.db.session import create_engine, create_session_factory, transaction
from agentcreator.llm.registry import ModelRegistry
from agentcreator.repositories import turns as turn_repo
from agentcreator.services.fair_use import FairUse, MemoryTurnSlots, RedisTurnSlots
from agentcreator.services.providers import ProviderService

log = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    passwords: PasswordHasher
    tokens: TokenSigner
    secrets: SecretBox
    rate_limiter: RateLimiter
    redis: Redis | None
    bus: EventBus
    turns: TurnRegistry
    models: ModelRegistry
    providers: ProviderService
    billing: Billing
    chat: ChatService
    fair_use: FairUse

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        engine = create_engine(settings.resolved_database_url)
        sessions = create_session_factory(engine)
        redis = Redis(connection_pool=BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=settings.redis_max_connections, timeout=30)) \
            if settings.redis_url else None
        secret_key = settings.resolve_secret_key()
        secrets = SecretBox(secret_key)
        retention = settings.chat.replay_retention_seconds
        bus: EventBus = RedisEventBus(redis, retention) if redis else MemoryEventBus(retention)
        turns = TurnRegistry()
        models = ModelRegistry()
        billing = Billing(sessions, settings.billing)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            passwords=PasswordHasher(settings.auth),
            tokens=TokenSigner(secret_key, settings.auth),
            secrets=secrets,
            rate_limiter=RedisRateLimiter(redis) if redis else MemoryRateLimiter(),
            redis=redis,
            bus=bus,
            turns=turns,
            models=models,
            providers=ProviderService(sessions, models, settings, secrets),
            billing=billing,
            chat=ChatService(sessions, bus, turns, models, settings, billing),
            fair_use=FairUse(sessions, RedisTurnSlots(redis, settings.fair_use.slot_lease_seconds) if redis
                             else MemoryTurnSlots(), settings.fair_use),
        )

    async def start(self, *, recover_interrupted: bool = True) -> None:
        """Load the providers (environment and database); mark turns a crash left streaming."""
        await self.providers.reload()
        if recover_interrupted:
            async with transaction(self.sessions) as session:
                count = await turn_repo.mark_streaming_interrupted(session)
            if count:
                log.warning("marked %d answer(s) left streaming by a previous run as interrupted", count)
            released = await self.billing.recover()
            if released:
                log.warning("released %d budget reservation(s) left open by a previous run", released)

    async def close(self) -> None:
        await self.chat.aclose()
        await self.models.aclose()
        await self.bus.aclose()
        await self.rate_limiter.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
