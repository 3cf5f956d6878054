"""Starts one sandboxed interpreter: ``prlimit`` (limits.py) + ``bwrap`` under a pooled uid.

What the sandbox sees: ``/usr`` read-only (and the merged-/usr links), a synthetic ``/etc`` with a
passwd/group of its own, fresh ``/proc`` and ``/dev``, a size-limited tmpfs at ``/tmp``, the
interpreter environment read-only at ``/opt/env``, this package's loop at ``/opt/agentcreator``, and
its session's work directory read-write at ``/mnt/data``. No network (``--unshare-all``), no
capabilities, a cleared environment, its own session and pid namespace, the seccomp filter, and it
dies with the app.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from agentcreator.sandbox import seccomp
from agentcreator.sandbox.errors import SandboxUnavailable
from agentcreator.sandbox.limits import Limits

SETPRIV = "/usr/bin/setpriv"  # util-linux, on every Debian system

INNER_UID = 1000
REPL_SOURCE = Path(__file__).with_name("repl_server.py")
ETC_PASSWD = f"sandbox:x:{INNER_UID}:{INNER_UID}:sandbox:/mnt/data:/usr/sbin/nologin\n"
ETC_GROUP = f"sandbox:x:{INNER_UID}:\n"
ETC_HOSTS = "127.0.0.1 localhost sandbox\n"
SHM_BYTES = 64 << 20
ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONPATH": "/opt/env/site",
    "PYTHONDONTWRITEBYTECODE": "1",
    "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": "/tmp/.matplotlib",
    # One thread per numeric library: threads count against the process limit and the address space.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class LaunchConfig:
    bwrap: str
    prlimit: str
    python: Path
    env_dir: Path
    limits: Limits

    def check(self) -> None:
        """Raise SandboxUnavailable, saying what to install, when something is missing."""
        if os.geteuid() != 0:
            raise SandboxUnavailable("the code interpreter needs the server to run as root: each sandbox "
                                     "runs under a uid of its own from the pool")
        if shutil.which(self.bwrap) is None:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed: run `make sandbox`")
        if shutil.which(self.prlimit) is None:
            raise SandboxUnavailable("prlimit (util-linux) is not installed")
        if not self.python.is_file() or not str(self.python.resolve()).startswith("/usr/"):
            raise SandboxUnavailable(f"the sandbox interpreter {self.python} must be a file under /usr")
        if not (self.env_dir / "site").is_dir():
            raise SandboxUnavailable(f"the sandbox environment {self.env_dir} is missing: run `make sandbox`")
        require_reachable(self.env_dir, "SANDBOX__ENV_DIR")
        seccomp.filter_program()


def require_reachable(path: Path, setting: str) -> None:
    """bubblewrap runs as the session's uid and opens its mounts by path, so every directory above
    ``path`` must be searchable by others (``o+x``; listing is not needed)."""
    for directory in [path, *path.parents]:
        if not directory.stat().st_mode & stat.S_IXOTH:
            raise SandboxUnavailable(
                f"{directory} is not searchable by other users, so sandboxes cannot reach {path}: "
                f"`chmod o+x {directory}` or set {setting} to another place")


@dataclass
class Launched:
    process: asyncio.subprocess.Process
    replies: asyncio.StreamReader
    _transport: asyncio.BaseTransport | None = field(default=None, repr=False)

    def close_replies(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _data_fd(data: bytes) -> int:
    """A readable fd holding ``data`` (bwrap reads ``--ro-bind-data``/``--seccomp`` fds to the end)."""
    fd = os.memfd_create("sandbox-data", os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def bwrap_argv(config: LaunchConfig, fds: dict[str, int], work_dir: Path) -> list[str]:
    argv = [
        config.bwrap,
        "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
        "--uid", str(INNER_UID), "--gid", str(INNER_UID), "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
    ]
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        if os.path.islink(f"/{link}"):
            argv += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
    argv += [
        "--proc", "/proc", "--dev", "/dev",
        # bwrap's /dev is a tmpfs the sandbox user owns: shared memory gets a small tmpfs of its own
        # and /dev is made read-only, so neither can fill the host's memory.
        "--size", str(min(config.limits.tmp_bytes, SHM_BYTES)), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
        "--size", str(config.limits.tmp_bytes), "--tmpfs", "/tmp",
        "--dir", "/etc",
        "--ro-bind-data", str(fds["passwd"]), "/etc/passwd",
        "--ro-bind-data", str(fds["group"]), "/etc/group",
        "--ro-bind-data", str(fds["hosts"]), "/etc/hosts",
        "--ro-bind", str(config.env_dir), "/opt/env",
        "--dir", "/opt/agentcreator",
        "--ro-bind-data", str(fds["repl"]), "/opt/agentcreator/repl.py",
        "--bind", str(work_dir), "/mnt/data",
        "--remount-ro", "/",
        "--chdir", "/mnt/data",
        "--seccomp", str(fds["seccomp"]),
    ]
    for name, value in ENVIRONMENT.items():
        argv += ["--setenv", name, value]
    argv += [str(config.python), "-s", "-B", "/opt/agentcreator/repl.py"]
    return argv


async def launch(config: LaunchConfig, uid: int, work_dir: Path) -> Launched:
    """Start the interpreter for one session under ``uid`` with ``work_dir`` at /mnt/data."""
    fds: dict[str, int] = {}
    reply_read, reply_write = os.pipe()
    try:
        fds["seccomp"] = _data_fd(seccomp.filter_program())
        fds["passwd"] = _data_fd(ETC_PASSWD.encode())
        fds["group"] = _data_fd(ETC_GROUP.encode())
        fds["hosts"] = _data_fd(ETC_HOSTS.encode())
        fds["repl"] = _data_fd(REPL_SOURCE.read_bytes())
        # Dropped to the session's uid by setpriv (util-linux) rather than Popen's user/group, which
        # uvloop (the server's event loop) does not support; no supplementary groups are kept.
        argv = [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--",
                *config.limits.prlimit_argv(config.prlimit), *bwrap_argv(config, fds, work_dir)]
        argv.append(str(reply_write))  # bwrap keeps inherited fds: the loop replies on this one
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            pass_fds=(reply_write, *fds.values()),
            start_new_session=True,
            env={"PATH": "/usr/bin:/bin"},
        )
    except OSError as exc:
        os.close(reply_read)
        raise SandboxUnavailable(f"the sandbox could not be started: {exc}") from exc
    finally:
        os.close(reply_write)
        for fd in fds.values():
            os.close(fd)
    loop = asyncio.get_running_loop()
    replies = asyncio.StreamReader(limit=1 << 20)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(replies), os.fdopen(reply_read, "rb", buffering=0))
    return Launched(process=process, replies=replies, _transport=transport)
