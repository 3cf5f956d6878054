"""The pool of host uids sandboxes run under: one uid per live session, never root, never shared.

Several processes (uvicorn workers, test runs) may each have a pool over the same range: a uid is
taken by holding an exclusive ``flock`` on its lock file, which the kernel drops if the holder dies.
The pool also finds and kills what runs under a uid (``processes_of``/``kill_all``): a session's
processes are exactly the processes of its uid, whatever they did to their process groups.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import threading
import time
from pathlib import Path

PROC = Path("/proc")
PR_SET_CHILD_SUBREAPER = 36


def processes_of(uids: set[int]) -> list[int]:
    """Pids whose real uid is in ``uids`` (read from /proc; a process that exits meanwhile is skipped)."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                if int(line.split()[1]) in uids:
                    found.append(int(entry.name))
                break
    return found


def kill_all(uid: int, *, wait_seconds: float = 2.0, spare: int | None = None) -> list[int]:
    """SIGKILL every process of ``uid`` but ``spare`` until none is left (or ``wait_seconds`` pass);
    returns the pids still alive (zombies waiting for their parent's wait count as gone)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        alive = [pid for pid in processes_of({uid}) if pid != spare and not _is_zombie(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def become_subreaper() -> None:
    """Make this process the reaper of its orphaned descendants. bwrap's monitor may exit a moment
    before its pid-namespace init is reaped; that init would otherwise be left to the host's pid 1,
    which in a container may never reap it. ``reap_orphans`` then collects it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def reap_orphans(uid: int, spare: int | None = None) -> None:
    """Collect the exit status of this process's zombie children under ``uid`` (orphans handed to
    us as subreaper), but not ``spare`` (a child asyncio waits for itself)."""
    me = os.getpid()
    for pid in processes_of({uid}):
        if pid == spare or not _is_zombie(pid) or _parent(pid) != me:
            continue
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def _parent(pid: int) -> int:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[-1].split()[1])


def _is_zombie(pid: int) -> bool:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in {"Z", "X"}


class UidPool:
    def __init__(self, base: int, size: int, lock_dir: Path) -> None:
        if base < 1000:
            raise ValueError("sandbox uids must not be system uids")
        self.uids = range(base, base + size)
        self._lock_dir = lock_dir
        self._held: dict[int, int] = {}  # uid -> fd of its lock file
        self._mutex = threading.Lock()  # take() runs in worker threads

    @property
    def free(self) -> int:
        return len(self.uids) - len(self._held)

    def take(self) -> int | None:
        """A uid no one else holds, with nothing running under it; None when all are in use."""
        self._lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._mutex:
            uid = self._lock_one()
        if uid is not None:
            kill_all(uid)  # leftovers of a crashed app
        return uid

    def _lock_one(self) -> int | None:
        for uid in self.uids:
            if uid in self._held:
                continue
            fd = os.open(self._lock_dir / f"uid-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._held[uid] = fd
            return uid
        return None

    def give_back(self, uid: int) -> None:
        with self._mutex:
            fd = self._held.pop(uid, None)
        if fd is not None:
            os.close(fd)  # closing drops the lock
