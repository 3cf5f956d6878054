"""A protocol-faithful OpenAI test double: a real HTTP server on 127.0.0.1 (uvicorn in a thread).

It speaks ``POST /v1/responses`` (SSE with ``event:`` lines, or JSON), ``POST /v1/chat/completions``
(``data:`` lines ending with ``data: [DONE]``, or JSON), ``POST /v1/embeddings`` (deterministic
vectors: ``_double_embeddings.py``; ``embedding_errors`` fails the next requests) and ``GET /v1/models``. Each request to a
generating endpoint consumes the next queued :class:`Script` (or :attr:`OpenAIDouble.default_script`).
Every request is recorded (:class:`RecordedRequest`) with its JSON body, headers and whether the
client went away before the reply was finished.

Usage from any test package::

    from tests.llm.openai_double import OpenAIDouble, Script, ToolCallScript

    with OpenAIDouble() as double:           # or the ``openai_double`` fixture of tests/llm/conftest.py
        double.push(Script(text=["Hel", "lo"]))
        client = openai.AsyncOpenAI(api_key="sk-test", base_url=double.base_url)
        ...
        assert double.requests[-1].body["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn

from tests.llm import _double_embeddings
from tests.llm import _double_protocol as proto


@dataclass
class ToolCallScript:
    name: str
    arguments: list[str]  # the fragments, streamed one per delta
    call_id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:24]}")

    @property
    def full_arguments(self) -> str:
        return "".join(self.arguments)


@dataclass
class HostedCallScript:
    """A call of a tool OpenAI runs itself, streamed before the answer's text (Responses only):
    ``web_search`` (``query``, ``sources``: URLs), ``file_search`` (``query``, ``results``: dicts of
    ``file_id``, ``filename``, ``score``, ``text``) or ``code_interpreter`` (``code``, ``logs``,
    ``container_id``). Sources, results and outputs are sent only when the request's ``include``
    asks for them, as OpenAI does. ``status``: how the call ends."""

    type: Literal["web_search", "file_search", "code_interpreter"]
    query: str = ""
    sources: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    code: list[str] = field(default_factory=list)  # the fragments, streamed one per code delta
    logs: str = ""
    container_id: str = "cntr_double"
    status: Literal["completed", "failed", "incomplete"] = "completed"
    item_id: str = ""

    def __post_init__(self) -> None:
        if not self.item_id:
            prefix = {"web_search": "ws", "file_search": "fs", "code_interpreter": "ci"}[self.type]
            self.item_id = f"{prefix}_{uuid.uuid4().hex[:24]}"


@dataclass
class HttpError:
    """Answered instead of a stream: ``{"error": {message, type, param, code}}`` with ``status``."""

    status: int
    message: str = "Scripted error"
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Script:
    text: list[str] = field(default_factory=list)
    tool_calls: list[ToolCallScript] = field(default_factory=list)
    # Responses only: hosted tool calls (before the text) and url_citation annotations on the text.
    hosted_calls: list[HostedCallScript] = field(default_factory=list)
    citations: list[tuple[str, str]] = field(default_factory=list)  # (url, title)
    input_tokens: int = 25
    cached_input_tokens: int = 0
    output_tokens: int | None = None  # default: one token per streamed delta
    reasoning_tokens: int = 0
    http_error: HttpError | None = None
    # After this many deltas (text chunks + argument and code fragments) the connection is dropped, no
    # terminal event.
    cut_after: int | None = None
    # After this many deltas the server waits ``stall_seconds`` (or until the client disconnects).
    stall_after: int | None = None
    stall_seconds: float = 30.0
    outcome: Literal["completed", "incomplete", "failed", "error_event"] = "completed"
    incomplete_reason: Literal["max_output_tokens", "content_filter"] = "max_output_tokens"
    failure_code: str = "server_error"
    failure_message: str = "The model failed to generate a response."
    include_usage: bool = True  # chat: send the usage chunk when the client asks for it
    finish_reason: str | None = None  # chat: override the final finish_reason
    chunk_delay: float = 0.0  # seconds between events

    @property
    def deltas(self) -> int:
        return len(self.text) + sum(len(call.arguments) for call in self.tool_calls) + \
            sum(len(call.code) for call in self.hosted_calls)

    @property
    def usage_output_tokens(self) -> int:
        return self.output_tokens if self.output_tokens is not None else self.deltas


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    finished: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)

    def wait_disconnected(self, timeout: float = 5.0) -> bool:
        return self.disconnected.wait(timeout)


CONTROL_PATH = "/__double/scripts"  # not part of OpenAI's API: how e2e tests script a double in another process


def script_from_json(item: dict[str, Any]) -> Script:
    """A script sent to ``CONTROL_PATH``: ``{"text": [...], "tool_calls": [{"name", "arguments": [...]}], ...}``."""
    calls = [ToolCallScript(call["name"], list(call.get("arguments") or ["{}"])) for call in item.get("tool_calls") or []]
    fields = {key: value for key, value in item.items() if key in ("text", "chunk_delay", "input_tokens", "output_tokens")}
    return Script(tool_calls=calls, **fields)


DEFAULT_SCRIPT = Script(text=["Hello", " from", " the", " double."])
DEFAULT_MODEL_IDS = ("gpt-4o-mini", "gpt-4o", "gpt-5-mini", "acme-chat-1", "text-embedding-3-small", "dall-e-3")


class _CutConnection(Exception):  # raised on purpose: uvicorn then drops the connection
    pass


class _HideCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _CutConnection))


class OpenAIDouble:
    def __init__(self) -> None:
        self.scripts: deque[Script] = deque()
        self.requests: list[RecordedRequest] = []
        self.model_ids: list[str] = list(DEFAULT_MODEL_IDS)
        self.models_error: HttpError | None = None
        self.embedding_errors: deque[HttpError] = deque()  # the next /v1/embeddings requests fail so
        self.default_script = DEFAULT_SCRIPT
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- control -----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *scripts: Script) -> None:
        self.scripts.extend(scripts)

    def reset(self) -> None:
        self.scripts.clear()
        self.default_script = DEFAULT_SCRIPT
        self.requests.clear()
        self.models_error = None
        self.embedding_errors.clear()
        self.model_ids = list(DEFAULT_MODEL_IDS)

    @property
    def last_request(self) -> RecordedRequest:
        return self.requests[-1]

    def start(self) -> OpenAIDouble:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self, lifespan="off", log_level="warning", access_log=False,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(_HideCuts())
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="openai-double", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the OpenAI double did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> OpenAIDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- ASGI --------------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        body = json.loads(raw) if raw else None
        recorded = RecordedRequest(scope["method"], scope["path"], headers, body)
        self.requests.append(recorded)
        gone = asyncio.Event()
        watcher = asyncio.create_task(self._watch(receive, recorded, gone))
        try:
            await self._route(recorded, send, gone)
        finally:
            recorded.finished.set()
            watcher.cancel()

    async def _watch(self, receive: Any, recorded: RecordedRequest, gone: asyncio.Event) -> None:
        message = await receive()
        if message["type"] == "http.disconnect" and not recorded.finished.is_set():
            recorded.disconnected.set()
            gone.set()

    async def _route(self, recorded: RecordedRequest, send: Any, gone: asyncio.Event) -> None:
        method, path = recorded.method, recorded.path
        if method == "POST" and path == CONTROL_PATH:  # a test in another process scripts the next replies
            self.push(*(script_from_json(item) for item in recorded.body or []))
            await _send_json(send, 200, {"queued": len(self.scripts)})
            return
        if method == "GET" and path == "/v1/models":
            if self.models_error:
                await _send_error(send, self.models_error)
                return
            await _send_json(send, 200, proto.models_list(self.model_ids))
            return
        if method == "POST" and path == "/v1/embeddings":
            await self._embeddings(recorded, send)
            return
        if method != "POST" or path not in ("/v1/responses", "/v1/chat/completions"):
            await _send_error(send, HttpError(404, f"Unknown path {method} {path}", code="unknown_url"))
            return
        script = self.scripts.popleft() if self.scripts else self.default_script
        if script.http_error:
            await _send_error(send, script.http_error)
            return
        body = recorded.body or {}
        responses = path == "/v1/responses"
        hosted = [t.get("type") for t in body.get("tools") or [] if t.get("type") != "function"]
        if not responses and hosted:  # Chat Completions has function tools only
            await _send_error(send, HttpError(400, f"Invalid value: '{hosted[0]}'. Supported values are: 'function' "
                                              "and 'custom'.", param="tools[0].type", code="invalid_value"))
            return
        if not body.get("stream"):
            payload = proto.response_object(script, body) if responses else proto.chat_completion(script, body)
            await _send_json(send, 200, payload)
            return
        events = proto.responses_events(script, body) if responses else proto.chat_events(script, body)
        await self._stream(send, script, events, gone)

    async def _embeddings(self, recorded: RecordedRequest, send: Any) -> None:
        if self.embedding_errors:
            await _send_error(send, self.embedding_errors.popleft())
            return
        try:
            payload = _double_embeddings.embeddings(recorded.body or {}, self.model_ids)
        except _double_embeddings.EmbeddingsRequestError as exc:
            await _send_error(send, HttpError(exc.status, exc.message, param=exc.param, code=exc.code))
            return
        await _send_json(send, 200, payload)

    async def _stream(self, send: Any, script: Script, events: Iterator[tuple[bool, bytes]],
                      gone: asyncio.Event) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream; charset=utf-8"),
                                (b"cache-control", b"no-cache"), (b"x-request-id", b"req_double")]})
        deltas = 0
        for is_delta, data in events:
            if gone.is_set():
                return
            await send({"type": "http.response.body", "body": data, "more_body": True})
            deltas += is_delta
            if script.chunk_delay:
                await asyncio.sleep(script.chunk_delay)
            if is_delta and script.cut_after is not None and deltas >= script.cut_after:
                raise _CutConnection(f"scripted cut after {deltas} deltas")
            if is_delta and script.stall_after is not None and deltas == script.stall_after:
                if await _gone_within(gone, script.stall_seconds):
                    return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _gone_within(gone: asyncio.Event, seconds: float) -> bool:
    waiter = asyncio.ensure_future(gone.wait())
    done, _ = await asyncio.wait({waiter}, timeout=seconds)
    waiter.cancel()
    return bool(done)


async def _send_json(send: Any, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(payload).encode()
    extra = [(key.lower().encode(), value.encode()) for key, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": data})


async def _send_error(send: Any, error: HttpError) -> None:
    body = {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}
    await _send_json(send, error.status, body, error.headers)


def main() -> None:
    """Serve the double on ``--port`` until interrupted (the e2e suite runs it next to the app)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    double = OpenAIDouble()
    config = uvicorn.Config(double, host="127.0.0.1", port=port, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    server.run()


if __name__ == "__main__":
    main()
