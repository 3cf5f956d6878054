"""The load generator's clients: one streamed turn, timed, over raw HTTP/1.1 (SSE) or WebSocket.

Raw asyncio streams instead of an HTTP library keep the client's cost per token at a few
microseconds, so at 200 streams the measurement is not limited by the client. Every turn records
the send time, the first-token time, the last-token time and the end (terminal event), and the
number of tokens delivered, counted from the text (the stub's tokens are ``TOKEN_CHARS`` characters
each, so coalesced deltas count right).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from bench.stub import TOKEN_CHARS

TERMINAL = ("turn_completed", "turn_stopped", "turn_failed")


@dataclass(slots=True)
class Turn:
    sent: float
    first: float | None = None
    last: float | None = None
    end: float | None = None
    chars: int = 0
    first_chars: int = 0
    error: str | None = None

    @property
    def tokens(self) -> float:
        return self.chars / TOKEN_CHARS

    @property
    def ttft(self) -> float | None:
        return None if self.first is None else self.first - self.sent

    @property
    def e2e(self) -> float | None:
        return None if self.end is None else self.end - self.sent

    @property
    def stream_rate(self) -> float | None:
        """Tokens per second after the first delta (the rate a reader sees the text grow)."""
        if self.first is None or self.last is None or self.last <= self.first:
            return None
        return (self.chars - self.first_chars) / TOKEN_CHARS / (self.last - self.first)

    def text(self, piece: str) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
            self.first_chars = len(piece)
        self.last = now
        self.chars += len(piece)


class HttpConnection:
    """One keep-alive HTTP/1.1 connection that streams response bodies (chunked or sized)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _ensure(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.writer is None or self.writer.is_closing() or self.reader is None or self.reader.at_eof():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        return self.reader, self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post_stream(self, path: str, body: bytes, headers: dict[str, str]):
        """Yield (status, None) once, then the body's pieces as they arrive."""
        reader, writer = await self._ensure()
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write((f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\ncontent-type: application/json\r\n"
                      f"content-length: {len(body)}\r\n{extra}\r\n").encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip().lower()
        yield status
        keep = fields.get("connection") != "close"
        if fields.get("transfer-encoding") == "chunked":
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                piece = await reader.readexactly(size + 2)
                yield piece[:-2]
        elif "content-length" in fields:
            yield await reader.readexactly(int(fields["content-length"]))
        else:
            keep = False
            while piece := await reader.read(65536):
                yield piece
        if not keep:
            self.close()


def sse_blocks(buffer: bytearray, piece: bytes) -> list[bytes]:
    """Append ``piece``; return the complete SSE event blocks and leave the rest in ``buffer``."""
    buffer += piece
    end = buffer.rfind(b"\n\n")
    if end < 0:
        return []
    blocks = bytes(buffer[:end]).split(b"\n\n")
    del buffer[:end + 2]
    return blocks


def _block_fields(block: bytes) -> tuple[str, bytes]:
    kind, data = "message", b""
    for line in block.split(b"\n"):
        if line.startswith(b"event:"):
            kind = line[6:].strip().decode()
        elif line.startswith(b"data:"):
            data = line[5:].strip()
    return kind, data


async def platform_sse_turn(conn: HttpConnection, token: str, conversation_id: str, content: str) -> Turn:
    body = json.dumps({"content": content}).encode()
    turn = Turn(sent=time.perf_counter())
    stream = conn.post_stream(f"/api/conversations/{conversation_id}/messages", body, {
        "authorization": f"Bearer {token}", "accept": "text/event-stream"})
    try:
        status = await anext(stream)
        buffer = bytearray()
        if status >= 300:
            rest = b"".join([piece async for piece in stream])
            turn.error = f"http {status}: {rest[:200].decode(errors='replace')}"
            return turn
        async for piece in stream:
            for block in sse_blocks(buffer, piece):
                kind, data = _block_fields(block)
                if kind == "text_delta":
                    turn.text(json.loads(data)["text"])
                elif kind in TERMINAL:
                    turn.end = time.perf_counter()
                    if kind != "turn_completed":
                        event = json.loads(data)
                        turn.error = f"{kind}: {(event.get('error') or {}).get('code', '')}"
        if turn.end is None and turn.error is None:
            turn.error = "stream ended without a terminal event"
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        turn.error = f"{type(exc).__name__}: {exc}"
        conn.close()
    return turn


def direct_body(content: str, max_tokens: int) -> bytes:
    return json.dumps({"model": "stub-model", "messages": [{"role": "user", "content": content}],
                       "stream": True, "stream_options": {"include_usage": True},
                       "max_tokens": max_tokens}).encode()


async def direct_turn(conn: HttpConnection, body: bytes) -> Turn:
    turn = Turn(sent=time.perf_counter())
    stream = conn.post_stream("/v1/chat/completions", body, {"accept": "text/event-stream"})
    try:
        status = await anext(stream)
        buffer = bytearray()
        if status >= 300:
            turn.error = f"http {status}"
            async for _ in stream:
                pass
            return turn
        async for piece in stream:
            for block in sse_blocks(buffer, piece):
                _, data = _block_fields(block)
                if data == b"[DONE]":
                    turn.end = time.perf_counter()
                    continue
                chunk = json.loads(data)
                for choice in chunk.get("choices") or ():
                    text = choice["delta"].get("content")
                    if text:
                        turn.text(text)
        if turn.end is None:
            turn.error = "stream ended without [DONE]"
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        turn.error = f"{type(exc).__name__}: {exc}"
        conn.close()
    return turn


class WsUser:
    """One authenticated WebSocket per user; turns are sent as ``send`` frames."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.ws = None

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url, max_size=None, compression=None, open_timeout=30)
        await self.ws.send(json.dumps({"type": "auth", "token": self.token}))
        ready = json.loads(await self.ws.recv())
        if ready.get("type") != "ready":
            raise RuntimeError(f"websocket not ready: {ready}")

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def turn(self, conversation_id: str, content: str) -> Turn:
        turn = Turn(sent=time.perf_counter())
        try:
            if self.ws is None:
                await self.connect()
                turn.sent = time.perf_counter()
            await self.ws.send(json.dumps({"type": "send", "conversation_id": conversation_id,
                                           "content": content, "request_id": "b"}))
            while True:
                frame = json.loads(await self.ws.recv())
                kind = frame.get("type")
                if kind == "event":
                    event = frame["event"]
                    etype = event["type"]
                    if etype == "text_delta":
                        turn.text(event["text"])
                    elif etype in TERMINAL:
                        turn.end = time.perf_counter()
                        if etype != "turn_completed":
                            turn.error = f"{etype}: {(event.get('error') or {}).get('code', '')}"
                        return turn
                elif kind == "error":
                    turn.error = f"ws error: {frame.get('error', {}).get('code')}"
                    return turn
        except Exception as exc:  # noqa: BLE001 - any failure is a counted error of this turn
            turn.error = f"{type(exc).__name__}: {exc}"
            self.ws = None
            return turn
