"""A fast stub of an OpenAI-compatible model server, for the benchmark (127.0.0.1 only).

Speaks just enough HTTP/1.1 (keep-alive, chunked responses) on raw asyncio streams:

* ``GET /v1/models`` lists ``stub-model``;
* ``GET /v1/_bench/timings`` returns (and forgets) when each streamed request arrived and when its
  first token was written, with the request's tag (the text after the last ``#`` of its last message,
  if any), for the breakdown of the time to first token;
* ``GET /v1/_bench/tool`` answers ``{"ok": true}`` at once: the instant tool of the runs benchmark
  (``bench/runs.py``, an HTTP function tool); its arrival, and the end of a streamed tool call, are in
  the timings too, tagged ``(tool)`` and ``(tool call)``;
* a request with ``tools`` whose last user message says ``#rounds=N`` is answered with a call to its
  first tool until it holds ``N - 1`` tool results after that message, then with text (a run of N rounds);
* ``POST /v1/chat/completions`` with ``stream: true`` answers in Chat Completions SSE: a role chunk,
  ``tokens`` content chunks (each token is exactly ``TOKEN_CHARS`` characters, so a client can count
  tokens from the text even when a proxy coalesces deltas), a ``finish_reason`` chunk, a usage chunk
  (``choices: []``) when ``stream_options.include_usage`` is set, then ``data: [DONE]``. Without
  ``stream`` it answers one JSON completion.

The first token comes ``first_token_delay`` seconds after the request, then one token every
``inter_token_delay`` seconds on an absolute schedule (no drift). ``max_tokens`` in the request caps
the reply. Chunks are pre-encoded: the stub costs a few microseconds per token.

Run: ``python -m bench.stub --port 9100 --tokens 128 --ttft 0.05 --itl 0.02``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time

TOKEN_CHARS = 4
WORDS = (" the", " cat", " sat", " on ", " mat", " and", " ran", " far")
assert all(len(w) == TOKEN_CHARS for w in WORDS)


def _tag(request: dict) -> str:
    messages = request.get("messages") or [{}]
    content = messages[-1].get("content")
    if isinstance(content, list):  # content parts
        content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content.rpartition("#")[2] if isinstance(content, str) and "#" in content else ""


def _tool_to_call(request: dict) -> str | None:
    """The tool to call now, for a run of ``#rounds=N`` (see the module doc), or None to answer."""
    tools = request.get("tools") or []
    if not tools or request.get("tool_choice") == "none":
        return None
    messages = request.get("messages") or []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    text = str(messages[last_user].get("content") or "") if last_user >= 0 else ""
    if "#rounds=" not in text:
        return None
    rounds = int(text.rpartition("#rounds=")[2].split()[0] or 1)
    done = sum(1 for m in messages[last_user + 1:] if m.get("role") == "tool")
    return tools[0]["function"]["name"] if done < rounds - 1 else None


def _chunked(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _sse(obj: dict) -> bytes:
    return _chunked(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n")


def _chunk(delta: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0, "model": "stub-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


ROLE = _sse(_chunk({"role": "assistant", "content": ""}))
TOKENS = [_sse(_chunk({"content": w})) for w in WORDS]
FINISH = {reason: _sse(_chunk({}, reason)) for reason in ("stop", "length")}
DONE = _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n"
STREAM_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
               b"transfer-encoding: chunked\r\n\r\n")


def _json_response(status: int, obj: object) -> bytes:
    body = json.dumps(obj).encode()
    return (b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (status, len(body), body))


class Stub:
    def __init__(self, tokens: int, ttft: float, itl: float) -> None:
        self.tokens, self.ttft, self.itl = tokens, ttft, itl
        self.requests = 0
        self.active = 0
        # (request arrived, first token written, tag), perf_counter (CLOCK_MONOTONIC: comparable across
        # processes on Linux), of the last streamed requests: the breakdown of the time to first token.
        self.timings: collections.deque[tuple[float, float, str]] = collections.deque(maxlen=100_000)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                    arrived = time.perf_counter()
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        key, _, value = line.partition(":")
                        headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                if method == "GET" and path.endswith("/models"):
                    writer.write(_json_response(200, {"object": "list", "data": [
                        {"id": "stub-model", "object": "model", "created": 0, "owned_by": "bench"}]}))
                elif method == "POST" and path.endswith("/chat/completions"):
                    await self._complete(json.loads(body or b"{}"), writer, arrived)
                elif method == "GET" and path.endswith("/_bench/tool"):
                    writer.write(_json_response(200, {"ok": True}))
                    self.timings.append((arrived, time.perf_counter(), "(tool)"))
                elif method == "GET" and path.endswith("/_bench/timings"):
                    writer.write(_json_response(200, list(self.timings)))
                    self.timings.clear()
                else:
                    writer.write(_json_response(404, {"error": {"message": "not found", "code": "not_found"}}))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _complete(self, request: dict, writer: asyncio.StreamWriter, arrived: float) -> None:
        self.requests += 1
        started = time.monotonic()
        limit = request.get("max_tokens") or request.get("max_completion_tokens") or self.tokens
        count = min(self.tokens, int(limit))
        prompt_chars = sum(len(str(m.get("content") or "")) for m in request.get("messages", []))
        usage = {"prompt_tokens": max(1, prompt_chars // 4), "completion_tokens": count,
                 "total_tokens": max(1, prompt_chars // 4) + count}
        tool = _tool_to_call(request)
        if tool is not None and request.get("stream"):
            await asyncio.sleep(self.ttft)
            writer.write(STREAM_HEAD + ROLE + _sse(_chunk({"tool_calls": [{
                "index": 0, "id": f"call_{self.requests}", "type": "function",
                "function": {"name": tool, "arguments": "{}"}}]})) + _sse(_chunk({}, "tool_calls")))
            if (request.get("stream_options") or {}).get("include_usage"):
                writer.write(_sse({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0,
                                   "model": "stub-model", "choices": [], "usage": {**usage, "completion_tokens": 4}}))
            writer.write(DONE)
            self.timings.append((arrived, time.perf_counter(), "(tool call)"))  # written: the round's end
            return
        if not request.get("stream"):
            await asyncio.sleep(self.ttft + self.itl * max(0, count - 1))
            text = "".join(WORDS[i % len(WORDS)] for i in range(count))
            writer.write(_json_response(200, {
                "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": "stub-model",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}], "usage": usage}))
            return
        self.active += 1
        try:
            writer.write(STREAM_HEAD + ROLE)
            for i in range(count):
                delay = started + self.ttft + i * self.itl - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(TOKENS[i % len(TOKENS)])
                if i == 0:
                    self.timings.append((arrived, time.perf_counter(), _tag(request)))
                if writer.transport.get_write_buffer_size() > 65536:
                    await writer.drain()
            tail = FINISH["length" if count < self.tokens else "stop"]
            if (request.get("stream_options") or {}).get("include_usage"):
                tail += _sse({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0,
                              "model": "stub-model", "choices": [], "usage": usage})
            writer.write(tail + DONE)
        finally:
            self.active -= 1


async def serve(host: str, port: int, stub: Stub, ready: asyncio.Event | None = None) -> None:
    server = await asyncio.start_server(stub.handle, host, port, backlog=2048)
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--tokens", type=int, default=128, help="reply length in tokens")
    parser.add_argument("--ttft", type=float, default=0.05, help="first-token delay, seconds")
    parser.add_argument("--itl", type=float, default=0.02, help="inter-token delay, seconds")
    args = parser.parse_args()
    print(f"stub listening on {args.host}:{args.port}", flush=True)
    run(serve(args.host, args.port, Stub(args.tokens, args.ttft, args.itl)))


def run(coro: object) -> object:
    """asyncio.run on uvloop when it is installed (it is, with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    return uvloop.run(coro)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
