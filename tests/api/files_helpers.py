"""Helpers for file tests: multipart uploads, and the storage directory of the session's app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from agentcreator.api.deps import file_service_of
from agentcreator.files.storage import LocalFileStorage
from agentcreator.state import AppState
from tests.conftest import UserSession


async def upload(client: httpx.AsyncClient, user: UserSession, name: str, data: bytes,
                 purpose: str | None = None, content_type: str = "application/octet-stream") -> httpx.Response:
    fields = {"purpose": purpose} if purpose else None
    return await client.post("/api/files", headers=user.headers, data=fields,
                             files={"file": (name, data, content_type)})


async def uploaded(client: httpx.AsyncClient, user: UserSession, name: str, data: bytes,
                   **kwargs: Any) -> dict[str, Any]:
    response = await upload(client, user, name, data, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()


def storage_root(app_state: AppState) -> Path:
    storage = file_service_of(app_state).storage
    assert isinstance(storage, LocalFileStorage)
    return storage.root


def stored_files(app_state: AppState) -> list[Path]:
    """Every file under the storage root, spool files included."""
    return sorted(p for p in storage_root(app_state).rglob("*") if p.is_file())


def empty_storage(app_state: AppState) -> None:
    """Remove every stored file (the ``client`` fixture empties the tables, not the storage)."""
    for path in stored_files(app_state):
        path.unlink()


@contextmanager
def file_settings(app_state: AppState, **changes: Any) -> Iterator[None]:
    """Run with other upload settings (limits, quota) on the session's file service."""
    service = file_service_of(app_state)
    before = service.settings
    service.settings = before.model_copy(update=changes)
    try:
        yield
    finally:
        service.settings = before
