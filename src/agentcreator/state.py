"""Process-wide services, built once in the app's lifespan and reached through ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agentcreator.core.config import Settings
from agentcreator.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from agentcreator.core.security import PasswordHasher, SecretBox, TokenSigner
from agentcreator.db.session import create_engine, create_session_factory


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

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        engine = create_engine(settings.resolved_database_url)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_session_factory(engine),
            passwords=PasswordHasher(settings.auth),
            tokens=TokenSigner(settings.secret_key, settings.auth),
            secrets=SecretBox(settings.secret_key),
            rate_limiter=RedisRateLimiter(redis) if redis else MemoryRateLimiter(),
            redis=redis,
        )

    async def close(self) -> None:
        await self.rate_limiter.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
