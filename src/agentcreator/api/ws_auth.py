"""Open WebSockets follow their sign-in: one task per process checks every open socket's session in
one query every ``chat.ws_auth_check_seconds`` (default 0.5 s) and closes (1008) the sockets whose
user was disabled, signed out everywhere or whose session was revoked, and those whose access token
expired more than ``chat.ws_auth_timeout_seconds`` ago without a fresh ``auth`` frame."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from agentcreator.db.session import session_scope
from agentcreator.repositories import users as user_repo
from agentcreator.state import AppState

log = logging.getLogger(__name__)
POLICY_VIOLATION = 1008
_CHUNK = 500


class WatchedSocket(Protocol):
    user_id: str
    session_id: str
    version: int
    expires_at: float

    async def close(self, code: int, reason: str) -> None: ...


class SocketAuthWatch:
    def __init__(self, state: AppState) -> None:
        self._state = state
        self._sockets: set[WatchedSocket] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def add(self, socket: WatchedSocket) -> None:
        self._sockets.add(socket)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def discard(self, socket: WatchedSocket) -> None:
        self._sockets.discard(socket)

    async def _run(self) -> None:
        interval = self._state.settings.chat.ws_auth_check_seconds
        while self._sockets:
            await asyncio.sleep(interval)
            try:
                await self.check()
            except Exception:
                log.exception("checking the sessions of open sockets failed")

    async def check(self) -> None:
        sockets = list(self._sockets)
        ids = sorted({s.session_id for s in sockets})
        found: dict[str, user_repo.SessionAccess] = {}
        async with session_scope(self._state.sessions) as session:
            for start in range(0, len(ids), _CHUNK):
                found.update(await user_repo.session_access(session, ids[start:start + _CHUNK]))
        expired_before = time.time() - self._state.settings.chat.ws_auth_timeout_seconds
        for socket in sockets:
            access = found.get(socket.session_id)
            if (access is None or access.user_id != socket.user_id or access.is_disabled
                    or access.revoked_at is not None or access.token_version != socket.version):
                self._close(socket, "session revoked")
            elif socket.expires_at < expired_before:
                self._close(socket, "access token expired")

    def _close(self, socket: WatchedSocket, reason: str) -> None:
        self._sockets.discard(socket)
        task = asyncio.create_task(socket.close(POLICY_VIOLATION, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def watch_for(app_state_holder: object, state: AppState) -> SocketAuthWatch:
    """The process's watch for ``state``, kept on the app's ``state`` (one per app)."""
    watch = getattr(app_state_holder, "socket_auth_watch", None)
    if watch is None or watch._state is not state:
        watch = SocketAuthWatch(state)
        setattr(app_state_holder, "socket_auth_watch", watch)  # noqa: B010 - Starlette's State
    return watch
