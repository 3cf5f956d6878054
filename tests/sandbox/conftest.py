"""Real sandboxes (bubblewrap, the pooled uids, the .sandbox-env interpreter): nothing is mocked.

Each test gets its own manager over a uid range of its own (locks keep concurrent runs apart too),
with a short call timeout so the abuse tests stay fast. After each test every sandbox is closed and
no process may be left under the range's uids.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agentcreator.core.config import SandboxSettings
from agentcreator.sandbox import SandboxManager
from agentcreator.sandbox.errors import SandboxUnavailable
from agentcreator.sandbox.session import Session
from agentcreator.sandbox.uids import processes_of

REPO = Path(__file__).resolve().parents[2]
ENV_DIR = REPO / ".sandbox-env"
UID_BASE = 63000 + (os.getpid() % 400) * 16


def sandbox_settings(**overrides: object) -> SandboxSettings:
    values: dict[str, object] = {
        # nice 0: the suite shares the machine with other work; the default (19) could starve the
        # sandboxes past their timeouts there. Tests that need a timeout set a short one.
        "env_dir": ENV_DIR, "uid_base": UID_BASE, "max_sessions": 4, "timeout_seconds": 15.0, "nice": 0,
        "queue_seconds": 1.0, "max_file_bytes": 8 << 20, "output_chars": 5000,
    }
    values.update(overrides)
    return SandboxSettings(**values)


def range_processes(settings: SandboxSettings) -> list[int]:
    return processes_of(set(range(settings.uid_base, settings.uid_base + settings.max_sessions)))


def uid_processes(uid: int | None) -> list[int]:
    assert uid is not None
    return processes_of({uid})


def session_of(manager: SandboxManager, key: str) -> Session:
    return manager._sessions[key]


@pytest.fixture
def sandbox_root() -> Iterator[Path]:
    """A root bubblewrap can reach as a pooled uid (pytest's own tmp_path sits under a 0700 directory)."""
    root = Path(tempfile.mkdtemp(prefix="agentcreator-sandbox-test-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def manager_settings() -> SandboxSettings:
    """Overridden by modules that want other limits."""
    return sandbox_settings()


@pytest.fixture
async def manager(sandbox_root: Path, manager_settings: SandboxSettings) -> AsyncIterator[SandboxManager]:
    settings = manager_settings
    built = SandboxManager(settings, sandbox_root)
    try:
        built.check()
    except SandboxUnavailable as exc:
        pytest.fail(f"{exc.message} (the sandbox tests need it: `make sandbox`)")
    assert range_processes(settings) == []
    yield built
    await built.close()
    assert range_processes(settings) == [], "a sandbox process outlived its session"
