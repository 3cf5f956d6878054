"""One conversation's Python session: a long-lived interpreter in a sandbox, and the calls to it.

The session object outlives its interpreter: after a crash, a timeout or an eviction the next call
starts a new interpreter in the same work directory (files stay, variables are gone) and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentcreator.sandbox import uids
from agentcreator.sandbox.errors import SandboxUnavailable
from agentcreator.sandbox.launcher import LaunchConfig, Launched, launch

log = logging.getLogger(__name__)

MARKER_GRACE_SECONDS = 2.0
SIGNALS = {9: "it was killed (out of memory or a limit)", 24: "it used up its CPU seconds",
           25: "a file grew over the size limit", 11: "it crashed (segmentation fault)",
           6: "it aborted", 31: "it made a forbidden system call (seccomp)"}


class OutputPump:
    """Reads one of the sandbox's output streams for its whole life, keeping at most ``cap`` bytes of
    the current call's output and counting the rest; the call's end is a marker line."""

    def __init__(self, reader: asyncio.StreamReader, cap: int) -> None:
        self._reader = reader
        self._cap = cap
        self._marker = b""
        self._carry = b""
        self._kept = bytearray()
        self.cut = 0
        self.done = asyncio.Event()
        self.task = asyncio.create_task(self._pump())

    def begin(self, marker: bytes) -> None:
        self._marker, self._carry, self._kept, self.cut = marker, b"", bytearray(), 0
        self.done.clear()

    def text(self) -> str:
        return bytes(self._kept + self._carry).decode("utf-8", errors="replace")

    def _keep(self, data: bytes) -> None:
        room = self._cap - len(self._kept)
        self._kept += data[:room]
        self.cut += max(0, len(data) - room)

    async def _pump(self) -> None:
        while chunk := await self._reader.read(1 << 16):
            if not self._marker:
                self._keep(chunk)  # start-up output (errors, if it fails to start)
                continue
            if self.done.is_set():
                continue  # output between calls (a background process) is dropped
            data = self._carry + chunk
            at = data.find(self._marker)
            if at >= 0:
                self._keep(data[:at])
                self._carry = b""
                self.done.set()
                continue
            hold = len(self._marker) - 1
            self._keep(data[:-hold] if len(data) > hold else b"")
            self._carry = data[-hold:] if len(data) > hold else data
        if self._marker:  # the stream closed (the sandbox died): what was held back is output too
            self._keep(self._carry)
            self._carry = b""
        self.done.set()


def _check_reply(reply: object, call: int) -> dict[str, Any]:
    """The loop's reply to call ``call``; ValueError for anything else (the code can write to the pipe)."""
    if not isinstance(reply, dict) or reply.get("id") != call:
        raise ValueError(f"not a reply to call {call}")
    value, error, cpu = reply.get("value"), reply.get("error"), reply.get("cpu_seconds", 0.0)
    if not all(item is None or isinstance(item, str) for item in (value, error)) or \
            not isinstance(cpu, int | float):
        raise ValueError("a malformed reply")
    return {"value": value, "error": error, "cpu_seconds": float(cpu)}


@dataclass
class CallOutcome:
    stdout: str = ""
    stderr: str = ""
    stdout_cut: int = 0
    stderr_cut: int = 0
    value: str | None = None
    error: str | None = None
    cpu_seconds: float = 0.0
    # Why the interpreter is gone after this call (timeout or crash); None: it lives on.
    ended: str | None = None


@dataclass
class Session:
    key: str
    work_dir: Path
    outbox: Path
    config: LaunchConfig
    output_cap: int
    uid: int | None = None
    launched: Launched | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    calls: int = 0
    # Source (size, mtime) of each input copied in, by name: copied again only when it changes.
    inputs: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Why the previous interpreter ended, told with the next call's result.
    previous_end: str | None = None
    # The flock on the work directory (manager.py), held while an interpreter may use it.
    dir_lock: int | None = None
    _pumps: tuple[OutputPump, OutputPump] | None = None

    @property
    def alive(self) -> bool:
        return self.launched is not None and self.launched.process.returncode is None

    async def start(self, uid: int, start_seconds: float) -> None:
        self.uid = uid
        launched = await launch(self.config, uid, self.work_dir)
        self.launched = launched
        assert launched.process.stdout is not None and launched.process.stderr is not None
        self._pumps = (OutputPump(launched.process.stdout, self.output_cap),
                       OutputPump(launched.process.stderr, self.output_cap))
        try:
            ready = await asyncio.wait_for(launched.replies.readline(), start_seconds)
            if not json.loads(ready or b"{}").get("ready"):
                raise ValueError("no ready line")
        except (TimeoutError, ValueError) as exc:
            errors = self._pumps[1].text() if self._pumps else ""
            await self.stop()
            raise SandboxUnavailable(f"the sandbox did not start: {errors.strip()[-500:] or exc!r}") from exc

    async def execute(self, code: str, limit_seconds: float) -> CallOutcome:
        launched, pumps = self.launched, self._pumps
        assert launched is not None and pumps is not None and launched.process.stdin is not None
        self.calls += 1
        marker = f"\n{secrets.token_hex(16)}\n".encode()
        for pump in pumps:
            pump.begin(marker)
        request = {"id": self.calls, "code": code, "nonce": marker.decode().strip()}
        outcome = CallOutcome()
        deadline = time.monotonic() + limit_seconds
        try:
            launched.process.stdin.write(json.dumps(request).encode() + b"\n")
            await launched.process.stdin.drain()
            line = await asyncio.wait_for(launched.replies.readline(), limit_seconds)
            reply = _check_reply(json.loads(line), self.calls) if line else None
        except TimeoutError:
            outcome.ended = f"the call ran longer than {limit_seconds:g} seconds and was stopped"
            reply = None
        except ValueError as exc:  # garbled, oversized or forged by the code: the session can't be trusted
            log.info("sandbox %s: bad reply: %r", self.key, exc)
            outcome.ended = "the interpreter's reply was unreadable (the code wrote to its reply channel)"
            reply = None
        except OSError as exc:  # a broken pipe: the interpreter is gone
            log.info("sandbox %s: reply failed: %r", self.key, exc)
            reply = None
        if reply is None and outcome.ended is None:
            outcome.ended = await self.exit_reason()
        if reply is not None:
            outcome.value, outcome.error, outcome.cpu_seconds = reply["value"], reply["error"], reply["cpu_seconds"]
            remaining = max(0.1, min(MARKER_GRACE_SECONDS, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(p.done.wait() for p in pumps)), remaining)
        else:
            await self.stop()
        outcome.stdout, outcome.stderr = pumps[0].text(), pumps[1].text()
        outcome.stdout_cut, outcome.stderr_cut = pumps[0].cut, pumps[1].cut
        return outcome

    async def exit_reason(self) -> str:
        assert self.launched is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.launched.process.wait(), 1.0)
        code = self.launched.process.returncode
        if code is None:
            return "the interpreter stopped answering"
        signo = -code if code < 0 else code - 128 if code > 128 else 0
        if signo in SIGNALS:
            return f"the Python process ended because {SIGNALS[signo]}"
        return f"the Python process exited (status {code})"

    async def stop(self) -> None:
        """Kill the interpreter and everything it started; the work directory stays.

        Everything of the uid but the outer bwrap dies first: bwrap then reaps its child (the pid
        namespace's init; its death takes the whole namespace) and exits, so no orphan is left for
        the host's init to reap. The outer bwrap is killed only if it lingers."""
        launched, self.launched = self.launched, None
        if self.uid is not None:
            spare = launched.process.pid if launched is not None else None
            await asyncio.to_thread(uids.kill_all, self.uid, spare=spare)
        if launched is not None:
            try:
                await asyncio.wait_for(launched.process.wait(), 2.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(launched.process.pid, signal.SIGKILL)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(launched.process.wait(), 5.0)
            launched.close_replies()
        if self.uid is not None:
            left = await asyncio.to_thread(uids.kill_all, self.uid)
            await asyncio.sleep(0)  # let asyncio's watcher see its child first
            uids.reap_orphans(self.uid, spare=launched.process.pid if launched is not None else None)
            if left:
                log.error("sandbox uid %s: processes %s survived SIGKILL", self.uid, left)
        if self._pumps is not None:
            # every writer is dead: let the pumps read what is left in the pipes, up to their EOF
            await asyncio.wait([pump.task for pump in self._pumps], timeout=0.5)
            for pump in self._pumps:
                pump.task.cancel()
            self._pumps = None
