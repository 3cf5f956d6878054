"""Process-wide services, built once in the app's lifespan and reached through ``app.state``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from agentcreator.billing import Billing
from agentcreator.chat.bus import EventBus, MemoryEventBus, RedisEventBus
from agentcreator.chat.leases import TurnLeases, new_worker_id
from agentcreator.chat.service import ChatService
from agentcreator.chat.turns import TurnRegistry
from agentcreator.core.config import Settings
from agentcreator.core.outbound import OutboundGuard
from agentcreator.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from agentcreator.core.security import PasswordHasher, SecretBox, TokenSigner
from agentcreator.db.session import create_engine, create_session_factory
from agentcreator.files.storage import LocalFileStorage
from agentcreator.llm.registry import ModelRegistry, build_provider
from agentcreator.rag.knowledge import Knowledge
from agentcreator.sandbox import SandboxManager
from agentcreator.services.code_files import CodeFiles
from agentcreator.services.fair_use import FairUse, MemoryTurnSlots, RedisTurnSlots
from agentcreator.services.files import FileService, sweep_at_startup
from agentcreator.services.mcp_servers import McpServerService
from agentcreator.services.provider_access import ProviderAccess
from agentcreator.services.providers import ProviderService
from agentcreator.tools import ToolRegistry
from agentcreator.tools.code_interpreter import CodeInterpreterFactory
from agentcreator.tools.file_search import FileSearchFactory
from agentcreator.tools.hosted import HostedToolPolicy
from agentcreator.tools.http_functions import FunctionToolFactory
from agentcreator.tools.web_search import WebSearchToolFactory

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
    outbound: OutboundGuard  # the one way out to the network for tools and fetched URLs (SSRF guard)
    sandbox: SandboxManager  # the code interpreter's sessions (started on first use)
    files: FileService  # uploads: storage under DATA_DIR/files, sniffing, images, extracted text
    tools: ToolRegistry
    chat: ChatService
    mcp: McpServerService
    knowledge: Knowledge
    fair_use: FairUse
    leases: TurnLeases  # this process's lease; finishes the turns of processes whose lease expired
    provider_watch: asyncio.Task[None] | None = None  # picks up other processes' provider changes

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
        outbound = OutboundGuard(settings.outbound)
        models = ModelRegistry(factory=partial(build_provider, guard=outbound))
        worker_id = new_worker_id()
        billing = Billing(sessions, settings.billing, worker_id)
        leases = TurnLeases(sessions, billing, bus, turns, settings.chat, worker_id)
        sandbox = SandboxManager.from_settings(settings)
        mcp = McpServerService(sessions, secrets, settings.mcp)
        knowledge = Knowledge.build(sessions, settings, billing, redis)
        files = FileService(sessions, LocalFileStorage(settings.data_dir / "files"), settings.files)
        code_files = CodeFiles(files)
        tools = ToolRegistry([FunctionToolFactory(outbound, secrets), WebSearchToolFactory(outbound, settings.web_search),
                              CodeInterpreterFactory(sandbox, code_files.inputs, code_files.keep_outputs),
                              mcp.tool_factory(), FileSearchFactory(knowledge)],
                             HostedToolPolicy(frozenset(settings.hosted_tools.enabled),
                                              frozenset(settings.hosted_tools.vector_store_ids),
                                              settings.hosted_tools.max_calls_per_round))
        access = ProviderAccess()  # filled by the provider service's loads, read by each turn's start
        chat = ChatService(sessions, bus, turns, models, settings, billing, tools, files, knowledge,
                           provider_access=access)
        chat.leases = leases
        return cls(
            settings=settings,
            leases=leases,
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
            providers=ProviderService(sessions, models, settings, secrets, outbound, access),
            billing=billing,
            outbound=outbound,
            sandbox=sandbox,
            tools=tools,
            files=files,
            chat=chat,
            mcp=mcp,
            knowledge=knowledge,
            fair_use=FairUse(sessions, RedisTurnSlots(redis, settings.fair_use.slot_lease_seconds) if redis
                             else MemoryTurnSlots(), settings.fair_use),
        )

    async def start(self, *, recover_interrupted: bool = True) -> None:
        """Load the providers (environment and database); take this process's lease and (unless told
        not to) finish the turns of processes whose lease expired: never a live process's."""
        await self.providers.reload()
        if self.settings.llm.providers_check_seconds > 0:
            self.provider_watch = asyncio.create_task(
                self.providers.follow_changes(self.settings.llm.providers_check_seconds), name="provider-watch")
        self.knowledge.start()  # settings.knowledge.workers in-process ingestion workers
        await self.leases.start(sweep=recover_interrupted)
        if recover_interrupted:
            await sweep_at_startup(self.files)  # files without a row, rows without a file (FILES__SWEEP_ON_STARTUP)

    async def close(self) -> None:
        if self.provider_watch is not None:
            self.provider_watch.cancel()
            await asyncio.gather(self.provider_watch, return_exceptions=True)
        await self.knowledge.close()
        await self.chat.aclose()
        await self.mcp.aclose()
        await self.leases.close()
        await self.models.aclose()
        await self.outbound.aclose()
        await self.sandbox.close()
        await self.bus.aclose()
        await self.rate_limiter.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
