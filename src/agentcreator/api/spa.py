"""Serve the built web app; history-mode routes fall back to index.html. API paths never do."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

_PACKAGE_PLACEHOLDER = Path(__file__).resolve().parent.parent / "web" / "placeholder"
_NOT_SPA = ("api/", "health", "docs", "redoc", "openapi.json")


def resolve_web_dir(configured: Path | None) -> Path:
    candidates = [configured] if configured else []
    candidates += [Path("frontend/dist"), _PACKAGE_PLACEHOLDER]
    for candidate in candidates:
        if candidate and (candidate / "index.html").is_file():
            return candidate.resolve()
    return _PACKAGE_PLACEHOLDER


def mount_spa(app: FastAPI, web_dir: Path) -> None:
    index = web_dir / "index.html"

    @app.get("/{path:path}", include_in_schema=False)
    async def spa(path: str, request: Request) -> Response:
        if path.startswith(_NOT_SPA) or request.method != "GET":
            raise StarletteHTTPException(404, "Not found")
        candidate = (web_dir / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(web_dir):
            cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
            return FileResponse(candidate, headers={"Cache-Control": cache})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
