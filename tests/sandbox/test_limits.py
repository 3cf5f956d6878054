"""Resource abuse: each is contained, the model gets a clear message, and nothing is left running."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from agentcreator.core.config import SandboxSettings
from agentcreator.sandbox import SandboxManager
from tests.sandbox.conftest import sandbox_settings, session_of, uid_processes


@pytest.fixture
def manager_settings() -> SandboxSettings:
    return sandbox_settings(timeout_seconds=3.0)


async def started(manager: SandboxManager, key: str = "c1") -> tuple[int, list[int]]:
    """Start the session; its uid and the processes it runs when idle (the baseline)."""
    await manager.run(key, "1")
    uid = session_of(manager, key).uid
    assert uid is not None
    return uid, uid_processes(uid)


async def test_a_fork_bomb_hits_the_process_limit_and_is_killed(manager: SandboxManager) -> None:
    uid, _ = await started(manager)
    began = time.monotonic()
    result = await manager.run("c1", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass")
    assert time.monotonic() - began < manager.settings.timeout_seconds + 3
    assert result.ended == "the call ran longer than 3 seconds and was stopped"
    assert uid_processes(uid) == []
    # the host is not starved meanwhile, and the conversation goes on in a new session
    assert (await manager.run("c1", "'ok'")).restarted_because == result.ended


async def test_fork_failures_are_reported_as_errors(manager: SandboxManager) -> None:
    uid, baseline = await started(manager)
    code = ("import os\nkids = []\ntry:\n    for _ in range(1000):\n        pid = os.fork()\n"
            "        if pid == 0:\n            import time; time.sleep(30)\n        kids.append(pid)\n"
            "finally:\n    import signal\n    for k in kids: os.kill(k, signal.SIGKILL)\n"
            "    for k in kids: os.waitpid(k, 0)\n")
    result = await manager.run("c1", code)
    assert result.error is not None and "BlockingIOError" in result.error and "Resource temporarily" in result.error
    assert result.ended is None and sorted(uid_processes(uid)) == sorted(baseline)


async def test_a_memory_hog_gets_a_memory_error(manager: SandboxManager) -> None:
    uid, baseline = await started(manager)
    result = await manager.run("c1", "hog = bytearray(2 * 1024**3)")
    assert result.error is not None and "MemoryError" in result.error
    # step by step (untouched pages, so the test stays fast: the limit is on the address space)
    code = "import numpy as np\nchunks = []\nwhile True:\n    chunks.append(np.empty(100 * 1024**2, np.uint8))"
    result = await manager.run("c1", code)
    assert result.error is not None and "MemoryError" in result.error and "Unable to allocate" in result.error
    assert (await manager.run("c1", "len(chunks)")).value in {str(n) for n in range(5, 11)}
    assert (await manager.run("c1", "del chunks\n'alive'")).value == "'alive'"
    assert sorted(uid_processes(uid)) == sorted(baseline)


async def test_an_infinite_loop_is_stopped_at_the_timeout(manager: SandboxManager) -> None:
    uid, _ = await started(manager)
    began = time.monotonic()
    result = await manager.run("c1", "print('spinning')\nwhile True:\n    pass")
    assert 3 <= time.monotonic() - began < 6
    assert result.stdout == "spinning\n"  # what was printed before the kill is kept
    assert result.ended is not None and "longer than 3 seconds" in result.ended
    assert uid_processes(uid) == []


async def test_a_sleep_past_the_timeout_kills_the_whole_process_tree(manager: SandboxManager) -> None:
    uid, _ = await started(manager)
    code = ("import subprocess, os\n"
            "subprocess.Popen(['sleep', '60'], start_new_session=True)\n"  # escapes the process group
            "if os.fork() == 0:\n    os.setsid()\n    import time; time.sleep(60)\n"
            "import time; time.sleep(60)")
    result = await manager.run("c1", code)
    assert result.ended is not None and "longer than 3 seconds" in result.ended
    assert uid_processes(uid) == []


async def test_a_stdout_flood_is_cut_with_a_note(manager: SandboxManager) -> None:
    uid, baseline = await started(manager)
    result = await manager.run("c1", "for i in range(200_000):\n    print('x' * 100)\n'done'")
    assert result.value == "'done'" and result.ended is None
    assert len(result.stdout) <= manager.settings.output_chars
    assert any(note.startswith("stdout was cut:") for note in result.notes)
    endless = await manager.run("c1", "import sys\nwhile True:\n    sys.stdout.write('y' * 10000)")
    assert endless.ended is not None and len(endless.stdout) <= manager.settings.output_chars
    assert any(note.startswith("stdout was cut:") for note in endless.notes)
    assert uid_processes(uid) == [] and baseline


async def test_a_file_over_the_size_limit_fails_to_grow(manager: SandboxManager) -> None:
    uid, baseline = await started(manager)
    code = "with open('/mnt/data/big.bin', 'wb') as f:\n    f.write(b'0' * (9 << 20))"
    result = await manager.run("c1", code)
    assert result.error is not None and "File too large" in result.error
    assert [f.size for f in result.files] == [8 << 20]  # what fit under the limit
    # scratch space is memory: bounded in total, not only per file
    for scratch, size in (("/tmp", 256), ("/dev/shm", 64)):
        code = (f"written = 0\ntry:\n    for i in range(100):\n        with open('{scratch}/fill%d' % i, 'wb') as f:\n"
                "            f.write(b'0' * (7 << 20))\n        written += 7 << 20\nfinally:\n    print(written >> 20)")
        filled = await manager.run("c1", code)
        assert filled.error is not None and "No space left on device" in filled.error, filled
        assert size - 7 <= int(filled.stdout) <= size, (scratch, filled.stdout)
    assert sorted(uid_processes(uid)) == sorted(baseline)


async def test_the_session_s_cpu_seconds_are_bounded(sandbox_root: Path) -> None:
    manager = SandboxManager(sandbox_settings(cpu_seconds=1, timeout_seconds=10.0), sandbox_root)
    try:
        uid, _ = await started(manager)
        result = await manager.run("c1", "while True:\n    pass")
        assert result.ended == "the Python process ended because it used up its CPU seconds"
        assert uid_processes(uid) == []
    finally:
        await manager.close()


async def test_mnt_data_cannot_fill_the_host_disk(sandbox_root: Path) -> None:
    manager = SandboxManager(sandbox_settings(work_bytes=32 << 20), sandbox_root)
    try:
        code = ("written = 0\ntry:\n    for i in range(100):\n        with open(f'/mnt/data/part{i}', 'wb') as f:\n"
                "            f.write(b'0' * (7 << 20))\n        written += 7 << 20\nfinally:\n    print(written >> 20)")
        result = await manager.run("c1", code)
        assert result.error is not None and "No space left on device" in result.error
        assert 25 <= int(result.stdout) <= 32
        work = session_of(manager, "c1").work_dir
        assert is_mount(work)
        await manager.end_session("c1")
        assert not is_mount(work) and not work.exists()
    finally:
        await manager.close()


def is_mount(path: Path) -> bool:
    return os.path.ismount(path)
