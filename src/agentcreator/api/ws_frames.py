"""Reading a WebSocket frame safely: the size limit of HTTP bodies and a nesting-depth limit are
checked on the raw text, before any JSON is parsed. A frame over either closes the socket (1009 for
size, 1008 for depth); the server never parses a big or deeply nested document."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

MESSAGE_TOO_BIG = 1009
POLICY_VIOLATION = 1008
_STRUCTURE = re.compile(r'[\[\]{}"\\]')


class FrameRefused(Exception):
    """The frame breaks a limit: close the socket with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class NotJson(ValueError):
    """The frame is within the limits but is not JSON: an error frame, the socket stays open."""


def nesting_depth(text: str, limit: int) -> int:
    """How deep arrays and objects nest in JSON ``text`` (brackets inside strings do not count);
    stops counting once past ``limit``."""
    if text.count("[") + text.count("{") <= limit:
        return 0 if "[" not in text and "{" not in text else 1  # cannot exceed the limit
    depth = deepest = 0
    in_string = False
    skip_to = -1
    for match in _STRUCTURE.finditer(text):
        at = match.start()
        if at < skip_to:
            continue
        char = match.group()
        if in_string:
            if char == "\\":
                skip_to = at + 2  # the escaped character
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


async def receive_frame(websocket: WebSocket, *, max_bytes: int, max_depth: int) -> Any:
    """The next frame's JSON value. Raises WebSocketDisconnect, FrameRefused or NotJson."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text: str | None = message.get("text")
    if text is None:
        data: bytes = message.get("bytes") or b""
        if len(data) > max_bytes:
            raise FrameRefused(MESSAGE_TOO_BIG, f"frames are limited to {max_bytes} bytes")
        try:
            text = data.decode()
        except UnicodeDecodeError as exc:
            raise NotJson("Frames must be JSON") from exc
    elif len(text) > max_bytes or (len(text) * 4 > max_bytes and len(text.encode()) > max_bytes):
        raise FrameRefused(MESSAGE_TOO_BIG, f"frames are limited to {max_bytes} bytes")
    if nesting_depth(text, max_depth) > max_depth:
        raise FrameRefused(POLICY_VIOLATION, f"frames may nest at most {max_depth} levels deep")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise NotJson("Frames must be JSON") from exc
