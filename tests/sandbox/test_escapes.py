"""Escape attempts: the host's files, other sessions, the app's environment, writes outside
/mnt/data, link and ``..`` tricks through file names, ptrace and the kernel interfaces seccomp denies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentcreator.sandbox import InputFile, SandboxManager
from agentcreator.sandbox.launcher import ENVIRONMENT, ETC_PASSWD
from tests.sandbox.conftest import session_of


def on_host(path: str) -> bool:
    return os.path.lexists(path)


async def test_etc_passwd_is_the_sandbox_s_own(manager: SandboxManager) -> None:
    result = await manager.run("c1", "import os\nopen('/etc/passwd').read(), os.path.exists('/etc/shadow')")
    assert result.value == repr((ETC_PASSWD, False))
    assert "root:" not in (result.value or "")


async def test_the_app_s_data_dir_and_other_sessions_are_out_of_reach(
        manager: SandboxManager, sandbox_root: Path) -> None:
    database = sandbox_root / "agentcreator.db"  # the sandbox root lives in DATA_DIR in production
    database.write_text("TOP SECRET ROWS")
    database.chmod(0o644)
    await manager.run("alice", "open('/mnt/data/alice.txt', 'w').write('alice private')")
    alice_dir = session_of(manager, "alice").work_dir
    code = f"""
import os
found = []
for path in [{str(database)!r}, {str(alice_dir / 'alice.txt')!r}, '/mnt/data/../alice.txt',
             '/proc/1/root/' + {str(database)!r}]:
    try:
        found.append(open(path).read())
    except OSError as exc:
        found.append(type(exc).__name__)
found, sorted(os.listdir('/mnt/data')), sorted(os.listdir('/'))
"""
    result = await manager.run("bob", code)
    assert result.error is None, result.error
    assert "SECRET" not in (result.value or "") and "alice private" not in (result.value or "")
    assert result.value is not None and result.value.startswith(
        "(['FileNotFoundError', 'FileNotFoundError', 'FileNotFoundError', 'FileNotFoundError'], [], ")
    top = eval(result.value)[2]
    assert set(top) <= {"bin", "dev", "etc", "lib", "lib64", "mnt", "opt", "proc", "sbin", "tmp", "usr"}


async def test_the_app_s_environment_does_not_leak(manager: SandboxManager, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "s3cret-key-of-the-app-0123456789abcdef")
    monkeypatch.setenv("DATABASE_URL", "mysql://root:hunter2@127.0.0.1/app")
    code = """
import os
leaks = []
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            leaks.append(open(f'/proc/{pid}/environ', 'rb').read())
        except OSError:
            pass
sorted(os.environ), any(b's3cret' in e or b'hunter2' in e for e in leaks), len(leaks)
"""
    result = await manager.run("c1", code)
    assert result.error is None, result.error
    names, leaked, seen = eval(result.value or "")
    assert set(names) <= set(ENVIRONMENT) | {"PWD", "LC_CTYPE"} and "SECRET_KEY" not in names
    assert leaked is False and seen >= 1


async def test_writes_outside_mnt_data_fail(manager: SandboxManager) -> None:
    code = """
results = {}
for path in ['/evil', '/usr/evil', '/etc/passwd', '/etc/evil', '/opt/env/evil', '/opt/agentcreator/repl.py',
             '/proc/sys/kernel/hostname', '/mnt/evil', '/dev/evil', '/dev/pts/evil']:
    try:
        with open(path, 'w') as f:
            f.write('x')
        results[path] = 'WROTE'
    except OSError as exc:
        results[path] = type(exc).__name__
open('/tmp/scratch', 'w').write('tmp is private scratch space')
results
"""
    result = await manager.run("c1", code)
    assert result.error is None, result.error
    outcome = eval(result.value or "")
    assert len(outcome) == 10 and "WROTE" not in outcome.values(), outcome
    assert not on_host("/evil") and not on_host("/usr/evil")


async def test_dot_dot_and_odd_input_names_stay_in_mnt_data(manager: SandboxManager, tmp_path: Path) -> None:
    source = tmp_path / "payload.txt"
    source.write_text("payload")
    names = ["../../../../tmp/agentcreator-escape.txt", "..", ".", "a/../../b.txt", "C:\\x\\..\\win.txt",
             "nul\x00byte.txt", "\x1b[31mred.txt", ".hidden"]
    result = await manager.run("c1", "import os\nsorted(os.listdir('/mnt/data'))",
                               [InputFile(name, source) for name in names])
    assert result.value == repr(sorted(["agentcreator-escape.txt", "file", "b.txt", "win.txt",
                                        "nulbyte.txt", "[31mred.txt", "hidden"]))
    assert not on_host("/tmp/agentcreator-escape.txt")


async def test_a_planted_symlink_is_replaced_not_written_through(
        manager: SandboxManager, sandbox_root: Path, tmp_path: Path) -> None:
    victim = sandbox_root / "host-file.txt"
    victim.write_text("host content")
    upload = tmp_path / "upload.csv"
    upload.write_text("a,b\n1,2\n")
    # the code plants links where the next upload and the output scan will look
    plant = (f"import os\nos.symlink({str(victim)!r}, '/mnt/data/report.csv')\n"
             f"os.symlink({str(victim)!r}, '/mnt/data/leak.txt')\n"
             f"os.symlink({str(sandbox_root)!r}, '/mnt/data/hostdir')\n"
             "os.symlink('/etc/passwd', '/mnt/data/passwd.txt')")
    planted = await manager.run("c1", plant)
    assert planted.error is None, planted.error
    assert planted.files == []  # links are never collected, nor followed
    result = await manager.run("c1", "open('/mnt/data/report.csv').read(), os.path.islink('/mnt/data/report.csv')",
                               [InputFile("report.csv", upload)])
    assert result.value == repr(("a,b\n1,2\n", False))
    assert victim.read_text() == "host content" and not victim.is_symlink()
    assert all(b"host content" not in f.path.read_bytes() for f in result.files)


async def test_ptrace_mount_unshare_and_bpf_are_denied(manager: SandboxManager) -> None:
    code = """
import ctypes, os, errno, time
libc = ctypes.CDLL(None, use_errno=True)
def call(fn, *args):
    ctypes.set_errno(0)
    rc = fn(*args)
    return rc, errno.errorcode.get(ctypes.get_errno())
child = os.fork()
if child == 0:
    time.sleep(10)
    os._exit(0)
out = {
    'ptrace_attach': call(libc.ptrace, 16, child, None, None),
    'mount': call(libc.mount, b'none', b'/tmp', b'tmpfs', 0, None),
    'unshare_user': call(libc.unshare, 0x10000000),
    'unshare_net': call(libc.unshare, 0x40000000),
    'bpf': call(libc.syscall, 321, 0, None, 0),
    'clone_newuser': call(libc.syscall, 56, 0x10000000 | 17, None, None, None, None),
    'caps': [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1],
}
os.kill(child, 9); os.waitpid(child, 0)
out
"""
    result = await manager.run("c1", code)
    assert result.error is None, result.error
    out = eval(result.value or "")
    for name in ("ptrace_attach", "mount", "unshare_user", "unshare_net", "bpf", "clone_newuser"):
        assert out[name] == (-1, "EPERM"), (name, out[name])
    assert out["caps"] == "0000000000000000"
    assert os.getuid() == 0  # the test runs as root: the denials above are the sandbox's, not ours


async def test_the_x32_syscall_door_is_closed(manager: SandboxManager) -> None:
    # the same syscall numbers with the x32 bit would skip an x86_64-only filter: libseccomp kills
    result = await manager.run("c1", "import ctypes\nctypes.CDLL(None).syscall(0x40000000 + 101, 16, 1, 0, 0)")
    assert result.ended == "the Python process ended because it made a forbidden system call (seccomp)"
