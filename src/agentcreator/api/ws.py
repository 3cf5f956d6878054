"""WebSocket transport: ``GET /api/ws``.

The first frame must be ``{"type": "auth", "token": "<access token>"}`` (never the URL); a wrong or
missing token closes the socket with 1008. Then the client sends JSON frames:
``subscribe {conversation_id, last_event_id?}``, ``unsubscribe {conversation_id}``,
``send {conversation_id, content, file_ids?, request_id?}``, ``regenerate {conversation_id, message_id}``,
``edit {conversation_id, message_id, content, file_ids?}``,
``submit_tool_outputs {conversation_id, run_id, tool_outputs: [{tool_call_id, output}]}`` (a run paused in
``requires_action`` goes on), ``stop {conversation_id}``, ``ping``, and
``auth {token}`` again to swap in a refreshed token. The server answers ``ready``, ``ack``,
``error``, ``pong`` and ``event {conversation_id, id, event}`` frames carrying the turn events.
A user who is disabled or whose session is revoked has their socket closed (1008) within a second
(api/ws_auth.py). Every action but ``ping`` and ``auth`` is refused with a ``token_expired`` error
frame once the access token has expired; send a fresh one with ``auth``. A frame over the size limit
of HTTP bodies closes the socket with 1009, one nested too deep with 1008 (api/ws_frames.py); an
unexpected error closes it with 1011 and is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from agentcreator.api.cursors import checked_event_id
from agentcreator.api.deps import authenticate, file_service_of, image_importer_of, verify_access_token
from agentcreator.api.schemas.chat import MessageCreate, ToolOutputsSubmit
from agentcreator.api.ws_auth import watch_for
from agentcreator.api.ws_frames import FrameRefused, NotJson, receive_frame
from agentcreator.chat.listen import Heartbeat, follow_batches
from agentcreator.chat.service import StartedTurn
from agentcreator.core.errors import AppError, NotFound, Unauthorized
from agentcreator.db.session import session_scope
from agentcreator.repositories import conversations as conversation_repo
from agentcreator.services.attachments import TurnParts, start_with_parts
from agentcreator.services.fair_use import admitted
from agentcreator.state import AppState

log = logging.getLogger(__name__)
router = APIRouter()
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011


class Connection:
    def __init__(self, websocket: WebSocket, state: AppState, user_id: str, session_id: str, version: int,
                 expires_at: float) -> None:
        self.ws = websocket
        self.state = state
        self.user_id = user_id
        self.session_id = session_id
        self.version = version
        self.expires_at = expires_at
        self.subscriptions: dict[str, asyncio.Task[None]] = {}
        self.wakers: dict[str, asyncio.Event] = {}
        self.send_lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.send_lock:
            if self.ws.application_state == WebSocketState.CONNECTED:
                await self.ws.send_json(frame)

    async def send_events(self, conversation_id: str, batch: list[tuple[str, dict[str, Any]]]) -> None:
        """One ``event`` frame per event, the whole batch under one hold of the send lock."""
        async with self.send_lock:
            for event_id, event in batch:
                if self.ws.application_state != WebSocketState.CONNECTED:
                    return
                await self.ws.send_json({"type": "event", "conversation_id": conversation_id, "id": event_id,
                                         "event": event})

    async def close(self, code: int, reason: str) -> None:
        async with self.send_lock:
            if self.ws.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                    await self.ws.close(code=code, reason=reason)

    async def run(self) -> None:
        limits = self.state.settings.limits
        watch = watch_for(self.ws.app.state, self.state)
        watch.add(self)
        try:
            while True:
                try:
                    frame = await receive_frame(self.ws, max_bytes=limits.max_body_bytes,
                                                max_depth=limits.max_json_depth)
                except NotJson:
                    await self.send({"type": "error", "error": {"code": "bad_frame", "message": "Frames must be JSON"}})
                    continue
                await self._dispatch(frame if isinstance(frame, dict) else {})
        except WebSocketDisconnect:
            pass
        except FrameRefused as exc:
            await self.close(exc.code, exc.reason)
        except Exception:
            log.exception("closing a WebSocket of user %s after an unexpected error", self.user_id)
            await self.close(INTERNAL_ERROR, "internal error")
        finally:
            watch.discard(self)
            for task in self.subscriptions.values():
                task.cancel()
            await asyncio.gather(*self.subscriptions.values(), return_exceptions=True)

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        kind, request_id = frame.get("type"), frame.get("request_id")
        try:
            if kind == "ping":
                await self.send({"type": "pong"})
            elif kind == "auth":
                await self._reauth(str(frame.get("token", "")))
                await self.send({"type": "ack", "request_id": request_id, "of": "auth"})
            elif kind in ("subscribe", "unsubscribe", "send", "regenerate", "edit", "submit_tool_outputs", "stop"):
                if time.time() >= self.expires_at:
                    raise Unauthorized("Access token expired; send a fresh one in an auth frame",
                                       code="token_expired")
                conversation_id = frame.get("conversation_id")
                if not isinstance(conversation_id, str) or not conversation_id:
                    raise NotFound("Conversation")
                await self._conversation_action(kind, conversation_id, frame)
                await self.send({"type": "ack", "request_id": request_id, "of": kind,
                                 "conversation_id": conversation_id})
            else:
                raise AppError(f"Unknown frame type {kind!r}", code="bad_frame")
        except ValidationError as exc:
            await self.send({"type": "error", "request_id": request_id, "error": {
                "code": "validation_error", "message": exc.errors()[0].get("msg", "Invalid frame")}})
        except AppError as exc:
            # The same body as the HTTP error (details included, e.g. continued_in_id or the budget).
            await self.send({"type": "error", "request_id": request_id, "error": exc.to_body()["error"]})

    async def _conversation_action(self, kind: str, conversation_id: str, frame: dict[str, Any]) -> None:
        chat = self.state.chat
        if kind == "subscribe":
            cursor = checked_event_id(frame.get("last_event_id"))
            await self._owned(conversation_id)
            self._subscribe(conversation_id, cursor)
        elif kind == "unsubscribe":
            task = self.subscriptions.pop(conversation_id, None)
            if task is not None:
                task.cancel()
        elif kind == "stop":
            await self._owned(conversation_id)
            await chat.stop(conversation_id)
        else:
            # The chat service reads the conversation with an owner check (404 for anyone else), so the
            # subscription starts after it: a new one replays the turn from its first event.
            message_id = str(frame.get("message_id", ""))
            prepared: list[TurnParts] = []
            if kind == "regenerate":
                start = partial(chat.regenerate, self.user_id, conversation_id, message_id)
            elif kind == "submit_tool_outputs":
                submitted = ToolOutputsSubmit.model_validate({"tool_outputs": frame.get("tool_outputs")})
                start = partial(chat.submit_tool_outputs, self.user_id, conversation_id, str(frame.get("run_id", "")),
                                submitted.outputs())
            else:
                body = MessageCreate.model_validate({"content": frame.get("content"),
                                                     "file_ids": frame.get("file_ids") or []})
                begin = partial(chat.send, self.user_id, conversation_id) if kind == "send" else \
                    partial(chat.edit, self.user_id, conversation_id, message_id)
                start = partial(self._start_with_parts, conversation_id, body, begin, prepared)
            # Inside the fair-use admission: image URL fetches count against the user's turn rate.
            started = await admitted(self.state.fair_use, self.state.rate_limiter, self.user_id, start)
            if prepared and prepared[0].file_ids:
                await file_service_of(self.state).attach(self.user_id, prepared[0].file_ids,
                                                         started.turn.conversation_id)
            self._subscribe(conversation_id, None, keep_existing=True)
            self.wakers[conversation_id].set()

    async def _start_with_parts(self, conversation_id: str, body: MessageCreate,
                                begin: Callable[[list[dict[str, Any]]], Awaitable[StartedTurn]],
                                prepared: list[TurnParts]) -> StartedTurn:
        """The same checks and image URL fetches as the HTTP routes (services/attachments.py)."""
        started, parts = await start_with_parts(
            file_service_of(self.state), image_importer_of(self.state), self.state.models, self.state.sessions,
            self.user_id, conversation_id, body.parts(), body.file_ids, begin)
        prepared.append(parts)
        return started

    async def _owned(self, conversation_id: str) -> None:
        async with session_scope(self.state.sessions) as session:
            if await conversation_repo.get_owned(session, self.user_id, conversation_id) is None:
                raise NotFound("Conversation")

    def _subscribe(self, conversation_id: str, last_event_id: Any, keep_existing: bool = False) -> None:
        if keep_existing and conversation_id in self.subscriptions:
            return
        old = self.subscriptions.pop(conversation_id, None)
        if old is not None:
            old.cancel()
        self.wakers[conversation_id] = asyncio.Event()
        after = last_event_id if isinstance(last_event_id, str) else None
        self.subscriptions[conversation_id] = asyncio.create_task(self._forward(conversation_id, after))

    async def _forward(self, conversation_id: str, after: str | None) -> None:
        """Forward every turn of the conversation, now and later, until unsubscribed."""
        bus, heartbeat = self.state.bus, self.state.settings.chat.heartbeat_seconds
        waker = self.wakers[conversation_id]
        while True:
            async for batch in follow_batches(bus, conversation_id, after, heartbeat):
                if isinstance(batch, Heartbeat):
                    continue
                after = batch[-1][0]
                await self.send_events(conversation_id, batch)
            waker.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waker.wait(), timeout=1.0)

    async def _reauth(self, token: str) -> None:
        claims = verify_access_token(self.state, token)
        async with session_scope(self.state.sessions) as session:
            user, session_id = await authenticate(session, self.state, token)
        if user.id != self.user_id:
            raise Unauthorized("A socket cannot change user", code="invalid_token")
        self.session_id, self.version = session_id, user.token_version
        self.expires_at = claims.expires_at.timestamp()


@router.websocket("/api/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.services
    await websocket.accept()
    limits = state.settings.limits
    try:
        frame = await asyncio.wait_for(
            receive_frame(websocket, max_bytes=limits.max_body_bytes, max_depth=limits.max_json_depth),
            timeout=state.settings.chat.ws_auth_timeout_seconds)
        if not isinstance(frame, dict) or frame.get("type") != "auth" or not isinstance(frame.get("token"), str):
            raise Unauthorized("The first frame must be {type: auth, token}")
        claims = verify_access_token(state, frame["token"])
        async with session_scope(state.sessions) as session:
            user, session_id = await authenticate(session, state, frame["token"])
    except WebSocketDisconnect:
        return
    except FrameRefused as exc:
        await websocket.close(code=exc.code, reason=exc.reason)
        return
    except (TimeoutError, ValueError, KeyError, AppError):
        await websocket.close(code=POLICY_VIOLATION, reason="authentication required")
        return
    await websocket.send_json({"type": "ready", "user_id": user.id})
    await Connection(websocket, state, user.id, session_id, user.token_version, claims.expires_at.timestamp()).run()
