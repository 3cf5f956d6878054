"""Application factory. Everything process-wide is built in the lifespan, never at import time."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agentcreator import __version__
from agentcreator.api import ws
from agentcreator.api.errors import install_error_handlers
from agentcreator.api.middleware import BodySizeLimit, SecurityHeaders
from agentcreator.api.openapi import install_openapi
from agentcreator.api.openapi_errors import declare_error_responses
from agentcreator.api.routes import (
    admin,
    assistants,
    auth,
    billing_admin,
    chat,
    conversations,
    files,
    health,
    knowledge,
    mcp_servers,
    providers,
    runs,
    usage,
)
from agentcreator.api.spa import mount_spa, resolve_web_dir
from agentcreator.chat.drain import install_sigterm_drain
from agentcreator.core.config import Settings, get_settings
from agentcreator.llm.tokens import openai_token_counter
from agentcreator.state import AppState


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = AppState.build(settings)
        app.state.services = services
        await services.start(recover_interrupted=settings.chat.recover_on_startup)
        await asyncio.to_thread(openai_token_counter().warm)
        # SIGTERM drains first: no new turns, running ones may finish (docs/operations.md).
        restore_sigterm = install_sigterm_drain(services.chat, services.turns, services.bus,
                                                settings.chat.drain_seconds)
        _freeze_startup_heap()
        try:
            yield
        finally:
            restore_sigterm()
            await services.close()

    # No /docs or /redoc: their pages load scripts from a CDN and inline, which the CSP forbids
    # (docs/security.md). The OpenAPI document stays at /openapi.json.
    app = FastAPI(title="Agent Creator", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    # Uploads stream their body and enforce the file size limit and the quota while reading it.
    app.add_middleware(BodySizeLimit, max_bytes=settings.limits.max_body_bytes,
                       exempt=frozenset({("POST", files.UPLOAD_PATH)}))
    app.add_middleware(SecurityHeaders, trust_forwarded_proto=settings.auth.trust_forwarded_for)
    # The chat turns first: a request is matched against the routes in this order.
    for router in (chat.router, ws.router, health.router, auth.router, admin.router, providers.admin_router,
                   providers.models_router, assistants.router, conversations.router,
                   billing_admin.router, billing_admin.prices_router, usage.router,
                   mcp_servers.admin_router, mcp_servers.router, files.router, knowledge.router,
                   knowledge.admin_router, runs.router):
        app.include_router(router)
    declare_error_responses(app)
    mount_spa(app, resolve_web_dir(settings.web_dir))
    install_openapi(app)
    return app


# Collector thresholds for a server (CPython's defaults are 700, 10, 10): collect the young generation
# every 20,000 allocations instead of 700, so that a request's short-lived objects die before they are
# promoted, and run full collections far more rarely.
GC_THRESHOLDS = (20_000, 50, 200)


def _freeze_startup_heap() -> None:
    """What start-up built (routes, models, the tokenizer's tables) lives as long as the process: move
    it out of the garbage collector's way, and collect less often. Full collections traversed all of
    it: stop-the-world pauses of 110-180 ms every few seconds at 200 streams, the tail of the time to
    first token (docs/performance.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
