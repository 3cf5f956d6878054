from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from agentcreator.api.deps import AppStateDep
from agentcreator.db.migrate import current_revisions, head_revisions

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="health_live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready", operation_id="health_ready")
async def ready(state: AppStateDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        current = await current_revisions(state.engine)
        checks["migrations"] = "ok" if current == head_revisions() else "pending"
    except Exception as exc:  # noqa: BLE001 - readiness reports the failure instead of raising
        checks.setdefault("database", f"error: {type(exc).__name__}")
        checks.setdefault("migrations", "unknown")
    if state.chat.draining:  # a shutdown is under way: the load balancer sends new work elsewhere
        checks["draining"] = "yes"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                        status_code=200 if ok else 503)
