"""The app as a real server process (uvicorn, the app factory, the environment as its only input) for
crash tests: SIGKILL and SIGTERM hit a real process, which shares the test's database and Redis."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.api.chat_helpers import SseEvent, sse_events

# One key for every server process of a test run (tokens cross processes); generated, never a published value.
SHARED_SECRET_KEY = secrets.token_urlsafe(48)

ROOT = Path(__file__).resolve().parents[2]
from tests.conftest import PASSWORD, register_and_sign_in  # noqa: E402 - the suite's password (the policy of docs/security.md)

# Short leases and sweeps for tests (settings; production defaults: docs/operations.md).
FAST = {"CHAT__LEASE_SECONDS": "1.5", "CHAT__LEASE_RENEW_SECONDS": "0.3", "CHAT__SWEEP_SECONDS": "0.5",
        "CHAT__CHECKPOINT_SECONDS": "0.2", "CHAT__CHECKPOINT_TOKENS": "2"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AppProcess:
    database_url: str
    double_url: str
    data_dir: Path
    redis_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("CHAT__", "LLM__", "BILLING__"))}
        env.update({
            "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "ENVIRONMENT": "test", "DATABASE_URL": self.database_url,
            "DATA_DIR": str(self.data_dir), "SECRET_KEY": SHARED_SECRET_KEY,
            "OPENAI_API_KEY": "sk-test-double", "OPENAI_BASE_URL": self.double_url,
            "AUTH__ARGON2_TIME_COST": "1", "AUTH__ARGON2_MEMORY_COST": "1024",
            # The database legs run at once and share Redis; all of them register from 127.0.0.1.
            "AUTH__REGISTRATIONS_PER_ADDRESS": "100000",
            "LLM__LOCAL_ENABLED": "false", "LLM__GENERATE_TITLES": "false", "CHAT__EARLY_MODEL_CALL": "false",
            "LLM__COMPATIBLE_ENDPOINTS": json.dumps([{"name": "double", "base_url": self.double_url,
                                                      "models": [{"name": "gpt-4o-mini", "tools": True}]}]),
            **FAST, **self.extra_env})
        env.pop("REDIS_URL", None)
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        return env

    async def start(self, within: float = 30.0) -> AppProcess:
        self.log_path = self.data_dir / f"server-{self.port}-{uuid.uuid4().hex[:6]}.log"
        log = self.log_path.open("wb")
        self.process = await asyncio.to_thread(
            subprocess.Popen,
            [sys.executable, "-m", "uvicorn", "agentcreator.main:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"the server exited at start:\n{self.logs()}")
                try:
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"the server did not start in {within}s:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path and self.log_path.exists() else ""

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def wait_exit(self, within: float) -> int:
        assert self.process is not None
        try:
            return await asyncio.to_thread(self.process.wait, within)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server did not exit in {within}s:\n{self.logs()}") from None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


async def register(client: httpx.AsyncClient, base: str) -> dict[str, str]:
    email = f"u{uuid.uuid4().hex[:10]}@example.com"
    body = await register_and_sign_in(client, email, "Crash", PASSWORD, base=base)
    return {"Authorization": f"Bearer {body['access_token']}"}


async def new_conversation(client: httpx.AsyncClient, base: str, headers: dict[str, str]) -> str:
    assistant = await client.post(f"{base}/api/assistants", headers=headers, json={
        "name": "Helper", "instructions": "Be brief.", "model": "double/gpt-4o-mini"})
    assert assistant.status_code == 201, assistant.text
    conversation = await client.post(f"{base}/api/conversations", headers=headers,
                                     json={"assistant_id": assistant.json()["id"]})
    assert conversation.status_code == 201, conversation.text
    return str(conversation.json()["id"])


@dataclass
class Followed:
    """What a follower saw: the text deltas (with when they came) and the terminal event."""

    deltas: list[tuple[float, str]] = field(default_factory=list)
    terminal: SseEvent | None = None
    terminal_at: float | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.deltas)

    def text_until(self, moment: float) -> str:
        return "".join(text for at, text in self.deltas if at <= moment)


TERMINAL = {"turn_completed", "turn_stopped", "turn_failed"}


async def follow(client: httpx.AsyncClient, base: str, headers: dict[str, str], conversation_id: str,
                 seen: Followed, *, post: dict[str, Any] | None = None) -> Followed:
    """Read a turn's events (``post``: send a message with ``Accept: text/event-stream``, else follow
    the conversation's current turn) until its terminal event or the stream's end."""
    stream_headers = {**headers, "Accept": "text/event-stream"}
    if post is not None:
        request = client.stream("POST", f"{base}/api/conversations/{conversation_id}/messages",
                                headers=stream_headers, json=post)
    else:
        request = client.stream("GET", f"{base}/api/conversations/{conversation_id}/events", headers=stream_headers)
    try:
        async with request as response:
            assert response.status_code in (200, 201), await response.aread()
            events: AsyncIterator[SseEvent] = sse_events(response)
            async for event in events:
                kind = event.data.get("type", event.type)
                if kind == "text_delta":
                    seen.deltas.append((time.monotonic(), event.data["text"]))
                    seen.started.set()
                elif kind in TERMINAL:
                    seen.terminal, seen.terminal_at = event, time.monotonic()
                    return seen
    except (httpx.RemoteProtocolError, httpx.ReadError):  # the server was killed under this stream
        pass
    return seen
