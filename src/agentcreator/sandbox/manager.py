"""The sandbox manager: sessions by key (a conversation id), their uids, files and expiry.

Built once in the app's lifespan (``SandboxManager.from_settings``) and closed at shutdown
(``await manager.close()``). ``run(session_key, code, files)`` is the one entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentcreator.core.config import SandboxSettings, Settings
from agentcreator.sandbox import files as sandbox_files
from agentcreator.sandbox import workdir
from agentcreator.sandbox.errors import SandboxBusy, SandboxUnavailable
from agentcreator.sandbox.files import InputFile, OutputFile
from agentcreator.sandbox.launcher import LaunchConfig, require_reachable
from agentcreator.sandbox.limits import Limits
from agentcreator.sandbox.session import Session
from agentcreator.sandbox.uids import UidPool, become_subreaper

log = logging.getLogger(__name__)
REMEMBERED_ENDINGS = 1000


@dataclass
class ExecutionResult:
    stdout: str
    stderr: str
    value: str | None
    error: str | None  # the traceback, when the code raised
    files: list[OutputFile]
    cpu_seconds: float
    duration_seconds: float
    # A new interpreter was started for this call (a per-session fee applies).
    session_started: bool = False
    # Why the previous interpreter of this conversation is gone (its variables with it), if it is.
    restarted_because: str | None = None
    # Why this call's interpreter is gone after the call (timeout, crash), if it is.
    ended: str | None = None
    notes: list[str] = field(default_factory=list)


class SandboxManager:
    def __init__(self, settings: SandboxSettings, root: Path) -> None:
        self.settings = settings
        self.limits = Limits.from_settings(settings)
        self.config = LaunchConfig(bwrap=settings.bwrap_path, prlimit="prlimit", python=settings.python_path,
                                   env_dir=settings.env_dir.resolve(), limits=self.limits)
        self.root = root.resolve()
        self._uids = UidPool(settings.uid_base, settings.max_sessions, settings.lock_dir)
        self._sessions: dict[str, Session] = {}
        self._endings: OrderedDict[str, str] = OrderedDict()
        self._slot_freed = asyncio.Condition()
        self._reaper: asyncio.Task[None] | None = None
        self._checked = False

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxManager:
        return cls(settings.sandbox, settings.sandbox_root)

    def check(self) -> None:
        """Raise SandboxUnavailable when bubblewrap, libseccomp or the environment is missing."""
        if not self._checked:
            self.config.check()
            # bwrap runs as the session's uid and opens the work directory by path: the way there is
            # traversable (0711, not listable); each work directory is 0700 and owned by its uid.
            (self.root / "work").mkdir(parents=True, exist_ok=True)
            (self.root / "outbox").mkdir(parents=True, exist_ok=True, mode=0o700)
            (self.root / "locks").mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.root, 0o711)
            os.chmod(self.root / "work", 0o711)
            os.chmod(self.root / "outbox", 0o700)
            require_reachable(self.root / "work", "SANDBOX__ROOT_DIR")
            become_subreaper()
            self._checked = True

    @property
    def live_sessions(self) -> int:
        return sum(1 for s in self._sessions.values() if s.alive)

    async def run(self, session_key: str, code: str,
                  files: Sequence[InputFile | tuple[str, Path]] = ()) -> ExecutionResult:
        """Run ``code`` in the session of ``session_key`` (started if needed), after copying ``files``
        (``InputFile`` or ``(name, host path)`` pairs) into /mnt/data; returns the output and the
        files the code created or changed."""
        inputs = [item if isinstance(item, InputFile) else InputFile(str(item[0]), Path(item[1])) for item in files]
        await asyncio.to_thread(self.check)
        self._start_reaper()
        session = self._sessions.get(session_key)
        if session is None:
            digest = hashlib.sha256(session_key.encode()).hexdigest()[:32]
            session = Session(key=session_key, work_dir=self.root / "work" / digest,
                              outbox=self.root / "outbox" / digest, config=self.config,
                              output_cap=self.settings.output_chars * 4)
            session.previous_end = self._endings.pop(session_key, None)
            self._sessions[session_key] = session
        async with session.lock:
            session.last_used = time.monotonic()
            try:
                return await self._run_locked(session, code, inputs)
            except asyncio.CancelledError:
                # The run was stopped mid-call: the code may still be running, so the sandbox goes
                # (a later call must not read this call's reply).
                await asyncio.shield(self._abandon(session))
                raise
            finally:
                session.last_used = time.monotonic()

    async def _run_locked(self, session: Session, code: str, files: Sequence[InputFile]) -> ExecutionResult:
        started = time.monotonic()
        session_started = False
        if not session.alive:
            if session.launched is not None:  # died between calls
                session.previous_end = await session.exit_reason()
            if session.uid is not None:
                await session.stop()
                await self._release(session)
            await self._lock_work_dir(session)
            try:
                uid = await self._take_uid(session)
            except BaseException:
                await self._release(session)
                raise
            session.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            await asyncio.to_thread(workdir.mount_limited, session.work_dir, self.settings.work_bytes, uid)
            work_fd = sandbox_files.open_dir(session.work_dir)
            try:
                await asyncio.to_thread(sandbox_files.chown_tree, work_fd, uid)
            finally:
                os.close(work_fd)
            try:
                await session.start(uid, self.settings.start_timeout_seconds)
            except SandboxUnavailable:
                await self._release(session)
                raise
            session_started = True
        assert session.uid is not None
        work_fd = sandbox_files.open_dir(session.work_dir)
        try:
            await asyncio.to_thread(self._copy_inputs, session, work_fd, files)
            before = await asyncio.to_thread(sandbox_files.snapshot, work_fd)
            outcome = await session.execute(code, self.settings.timeout_seconds)
            outbox = session.outbox / str(session.calls)
            outputs, skipped = await asyncio.to_thread(
                sandbox_files.collect, work_fd, before, outbox, self.settings.max_output_files)
        finally:
            os.close(work_fd)
        restarted = session.previous_end if session_started else None
        session.previous_end = None
        if outcome.ended:
            session.previous_end = outcome.ended
            await self._release(session)
        notes = [f"{len(skipped)} more new files not collected: {', '.join(skipped[:10])}"] if skipped else []
        shown = {}
        for stream, text, cut in (("stdout", outcome.stdout, outcome.stdout_cut),
                                  ("stderr", outcome.stderr, outcome.stderr_cut)):
            shown[stream] = text[: self.settings.output_chars]
            cut += len(text[self.settings.output_chars:].encode())
            if cut:
                notes.append(f"{stream} was cut: {cut} more bytes not shown")
        return ExecutionResult(
            stdout=shown["stdout"], stderr=shown["stderr"],
            value=outcome.value, error=outcome.error, files=outputs, cpu_seconds=outcome.cpu_seconds,
            duration_seconds=round(time.monotonic() - started, 3), session_started=session_started,
            restarted_because=restarted, ended=outcome.ended, notes=notes)

    def _copy_inputs(self, session: Session, work_fd: int, files: Sequence[InputFile]) -> None:
        assert session.uid is not None
        for item in files:
            name = sandbox_files.safe_name(item.name)
            try:
                info = os.stat(item.path)
            except OSError:
                info = None
            source = (info.st_size, info.st_mtime_ns) if info else (-1, -1)
            try:
                present = os.stat(name, dir_fd=work_fd, follow_symlinks=False)
            except FileNotFoundError:
                present = None
            if session.inputs.get(name) == source and present is not None:
                continue
            sandbox_files.copy_in(work_fd, Path(item.path), name, session.uid, self.settings.max_file_bytes)
            session.inputs[name] = source

    async def _lock_work_dir(self, session: Session) -> None:
        """Hold the work directory's lock for the interpreter's life: with several workers, one
        conversation's directory is used by one sandbox at a time."""
        deadline = time.monotonic() + self.settings.queue_seconds
        path = self.root / "locks" / f"{session.work_dir.name}.lock"
        while session.dir_lock is None:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise SandboxBusy("This conversation's code session is busy in another server process; "
                                      "try again shortly.") from None
                await asyncio.sleep(0.1)
                continue
            session.dir_lock = fd

    async def _take_uid(self, session: Session) -> int:
        """A uid for ``session``: a free one, else the least recently used idle session's, else wait
        up to ``queue_seconds`` for one, else refuse."""
        deadline = time.monotonic() + self.settings.queue_seconds
        while True:
            uid = await asyncio.to_thread(self._uids.take)
            if uid is not None:
                return uid
            idle = [s for s in self._sessions.values() if s is not session and s.uid is not None
                    and not s.lock.locked()]
            if idle:
                victim = min(idle, key=lambda s: s.last_used)
                await self._end(victim, "its sandbox was given to another conversation after it sat idle",
                                keep_files=True)
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxBusy(
                    f"All {self.settings.max_sessions} code interpreter sessions are busy; try again shortly.")
            async with self._slot_freed:
                with contextlib.suppress(TimeoutError):
                    # polled too: another process (worker) may free a uid of the shared range
                    await asyncio.wait_for(self._slot_freed.wait(), min(remaining, 0.25))

    async def _abandon(self, session: Session) -> None:
        if session.launched is not None or session.uid is not None:
            await session.stop()
            await self._release(session)
            session.previous_end = "a call was cancelled while it ran"

    async def _release(self, session: Session) -> None:
        if session.dir_lock is not None:
            os.close(session.dir_lock)
            session.dir_lock = None
        if session.uid is not None:
            self._uids.give_back(session.uid)
            session.uid = None
            async with self._slot_freed:
                self._slot_freed.notify_all()

    async def _end(self, session: Session, reason: str, *, keep_files: bool) -> None:
        await session.stop()
        await self._release(session)
        session.previous_end = reason
        if not keep_files:
            self._sessions.pop(session.key, None)
            self._remember(session.key, reason)
            await asyncio.to_thread(workdir.unmount, session.work_dir)
            await asyncio.to_thread(shutil.rmtree, session.work_dir, True)
            await asyncio.to_thread(shutil.rmtree, session.outbox, True)

    def _remember(self, key: str, reason: str) -> None:
        self._endings[key] = reason
        while len(self._endings) > REMEMBERED_ENDINGS:
            self._endings.popitem(last=False)

    async def end_session(self, session_key: str) -> None:
        """Drop a conversation's session and its files now (e.g. the conversation was deleted)."""
        session = self._sessions.get(session_key)
        if session is not None:
            async with session.lock:
                await self._end(session, "the session was ended", keep_files=False)

    async def expire_idle(self) -> int:
        """End the sessions idle for longer than ``idle_seconds``; returns how many ended."""
        now = time.monotonic()
        stale = [s for s in self._sessions.values()
                 if not s.lock.locked() and now - s.last_used > self.settings.idle_seconds]
        for session in stale:
            minutes = self.settings.idle_seconds / 60
            await self._end(session, f"it expired after {minutes:g} minutes without use", keep_files=False)
        return len(stale)

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap())

    async def _reap(self) -> None:
        period = min(30.0, self.settings.idle_seconds / 4)
        while True:
            await asyncio.sleep(period)
            try:
                await self.expire_idle()
            except OSError:
                log.exception("sandbox: expiring idle sessions failed")

    async def close(self) -> None:
        """Kill every sandbox and remove the work directories (shutdown)."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for session in list(self._sessions.values()):
            await self._end(session, "the server restarted", keep_files=False)
