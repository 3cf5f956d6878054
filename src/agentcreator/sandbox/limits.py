"""Resource limits of one sandbox, applied with util-linux ``prlimit`` around bubblewrap so that they hold
from the first instruction of the sandbox and are inherited by everything it starts.

``RLIMIT_NPROC`` counts the tasks of a real uid across the machine: it holds because each live session
has a uid of its own (``uids.py``) and no other process runs under it. ``RLIMIT_CPU`` bounds the
interpreter process over its whole life (a session, not a call); the wall clock of a call is the
host's timeout (``session.py``), which kills the sandbox's whole process tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentcreator.core.config import SandboxSettings


@dataclass(frozen=True)
class Limits:
    memory_bytes: int
    cpu_seconds: int
    max_processes: int
    max_file_bytes: int
    max_open_files: int
    tmp_bytes: int
    timeout_seconds: float
    nice: int = 19

    @classmethod
    def from_settings(cls, settings: SandboxSettings) -> Limits:
        return cls(
            memory_bytes=settings.memory_bytes,
            cpu_seconds=settings.cpu_seconds,
            max_processes=settings.max_processes,
            max_file_bytes=settings.max_file_bytes,
            max_open_files=settings.max_open_files,
            tmp_bytes=settings.tmp_bytes,
            timeout_seconds=settings.timeout_seconds,
            nice=settings.nice,
        )

    def prlimit_argv(self, prlimit: str = "prlimit") -> list[str]:
        """``nice`` and ``prlimit`` (soft:hard) for the command that follows ``--``."""
        return [
            "nice", "-n", str(self.nice),
            prlimit,
            f"--as={self.memory_bytes}:{self.memory_bytes}",
            # SIGXCPU at the soft limit, SIGKILL a few seconds later if it is caught.
            f"--cpu={self.cpu_seconds}:{self.cpu_seconds + 5}",
            f"--nproc={self.max_processes}:{self.max_processes}",
            f"--fsize={self.max_file_bytes}:{self.max_file_bytes}",
            f"--nofile={self.max_open_files}:{self.max_open_files}",
            "--core=0:0",
            "--",
        ]

    def describe(self) -> str:
        """One line for the tool description, so the model knows the box it works in."""
        mib = 1 << 20
        return (f"memory {self.memory_bytes // mib} MiB, {self.timeout_seconds:g} s per call, "
                f"files up to {self.max_file_bytes // mib} MiB, {self.max_processes} processes, no network")
