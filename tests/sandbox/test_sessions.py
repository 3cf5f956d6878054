"""Sessions: state between calls, results, files in and out, restarts, expiry, the session bound."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentcreator.sandbox import InputFile, SandboxManager
from agentcreator.sandbox.errors import SandboxBusy
from tests.sandbox.conftest import sandbox_settings, session_of, uid_processes


async def test_variables_persist_and_the_last_expression_is_returned(manager: SandboxManager) -> None:
    first = await manager.run("c1", "x = 40\nprint('set', x)")
    assert first.session_started and first.stdout == "set 40\n" and first.value is None
    second = await manager.run("c1", "x += 2\nx")
    assert not second.session_started and second.value == "42" and second.error is None


async def test_a_traceback_and_stderr_come_back_and_the_session_lives_on(manager: SandboxManager) -> None:
    result = await manager.run("c1", "import sys\nprint('warn', file=sys.stderr)\ndef f():\n    return 1/0\nf()")
    assert result.stderr == "warn\n"
    assert result.error is not None and "ZeroDivisionError: division by zero" in result.error
    assert 'line 4, in f' in result.error and "return 1/0" in result.error
    assert "repl" not in result.error  # the loop's own frames are not shown
    assert (await manager.run("c1", "'still here'")).value == "'still here'"


async def test_a_syntax_error_is_reported(manager: SandboxManager) -> None:
    result = await manager.run("c1", "def (:")
    assert result.error is not None and "SyntaxError" in result.error and result.ended is None


async def test_an_input_csv_becomes_a_chart_image(manager: SandboxManager, tmp_path: Path) -> None:
    csv = tmp_path / "upload.bin"
    csv.write_text("month,revenue\n" + "".join(f"2025-{m:02d},{m * 100}\n" for m in range(1, 13)))
    code = ("import pandas as pd, matplotlib.pyplot as plt\n"
            "df = pd.read_csv('/mnt/data/sales.csv')\n"
            "df.plot(x='month', y='revenue')\nplt.show()\n"
            "df.to_excel('/mnt/data/sales.xlsx')\nlen(df)")
    result = await manager.run("c1", code, [InputFile("sales.csv", csv)])
    assert result.error is None, result.error
    assert result.value == "12"
    by_name = {f.name: f for f in result.files}
    assert set(by_name) == {"chart-1.png", "sales.xlsx"}  # the input itself is not reported back
    chart = by_name["chart-1.png"]
    assert chart.is_image and chart.mime == "image/png" and chart.path.read_bytes()[:4] == b"\x89PNG"
    assert chart.size == chart.path.stat().st_size > 1000
    assert not by_name["sales.xlsx"].is_image and by_name["sales.xlsx"].path.read_bytes()[:2] == b"PK"
    assert not chart.path.is_relative_to(session_of(manager, "c1").work_dir)  # a copy the sandbox cannot touch


async def test_a_chart_the_code_saved_itself_is_not_saved_twice(manager: SandboxManager) -> None:
    """Issue 14: ``plt.savefig`` made revenue.png; the figure stayed open, and the loop used to save it
    again as chart-1.png, so the chat showed the chart twice."""
    code = ("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
            "plt.bar(['a', 'b'], [1, 2])\nplt.tight_layout()\nplt.savefig('/mnt/data/revenue.png')\n"
            "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nfig.savefig('/mnt/data/line.png', bbox_inches='tight')")
    result = await manager.run("c1", code)
    assert result.error is None and result.stderr == "", (result.error, result.stderr)
    assert sorted(f.name for f in result.files) == ["line.png", "revenue.png"]
    # the figures were closed: the next call saves nothing of them
    assert (await manager.run("c1", "plt.get_fignums()")).value == "[]"


async def test_figures_only_shown_or_changed_after_saving_are_still_saved(manager: SandboxManager) -> None:
    code = ("import matplotlib.pyplot as plt\n"
            "plt.figure(); plt.plot([1, 2]); plt.savefig('/mnt/data/before.png'); plt.title('changed after')\n"
            "plt.figure(); plt.plot([3, 1]); plt.show()\n"
            "plt.figure(); plt.plot([2, 2])")  # left open
    result = await manager.run("c1", code)
    assert result.error is None and result.stderr == "", (result.error, result.stderr)  # no Agg warning for show()
    assert sorted(f.name for f in result.files) == ["before.png", "chart-1.png", "chart-2.png", "chart-3.png"]
    # a figure saved in an earlier call and changed in this one is saved again (its new state)
    later = await manager.run("c1", "fig = plt.figure(); plt.plot([1]); fig.savefig('/mnt/data/x.png')\n"
                                    "fig.axes[0].set_xlabel('x')")
    assert sorted(f.name for f in later.files) == ["chart-4.png", "x.png"]


async def test_unchanged_inputs_are_not_copied_again(manager: SandboxManager, tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("v1")
    await manager.run("c1", "open('data.txt', 'a').write('+edit')", [InputFile("data.txt", data)])
    kept = await manager.run("c1", "open('data.txt').read()", [InputFile("data.txt", data)])
    assert kept.value == "'v1+edit'"
    data.write_text("v2")  # a new upload under the same name, given as a (name, path) pair
    assert (await manager.run("c1", "open('data.txt').read()", [("data.txt", data)])).value == "'v2'"


async def test_two_sessions_at_once_are_isolated(manager: SandboxManager) -> None:
    code = ("import os, time\nsecret = {k!r}\nopen('/mnt/data/mine.txt', 'w').write(secret)\n"
            "time.sleep(0.3)\nsorted(os.listdir('/mnt/data')), open('/mnt/data/mine.txt').read(), os.getuid()")
    alice, bob = await asyncio.gather(manager.run("alice", code.format(k="alice")),
                                      manager.run("bob", code.format(k="bob")))
    assert alice.value == "(['mine.txt'], 'alice', 1000)"
    assert bob.value == "(['mine.txt'], 'bob', 1000)"
    assert session_of(manager, "alice").uid != session_of(manager, "bob").uid
    assert (await manager.run("bob", "secret")).value == "'bob'"


async def test_a_crash_restarts_the_session_and_says_so(manager: SandboxManager) -> None:
    await manager.run("c1", "x = 1\nopen('keep.txt', 'w').write('kept')")
    uid = session_of(manager, "c1").uid
    crashed = await manager.run("c1", "import os\nos._exit(3)")
    assert crashed.ended == "the Python process exited (status 3)"
    assert uid_processes(uid) == []
    after = await manager.run("c1", "open('keep.txt').read(), 'x' in globals()")
    assert after.session_started and after.restarted_because == "the Python process exited (status 3)"
    assert after.value == "('kept', False)"
    assert (await manager.run("c1", "1")).restarted_because is None  # told once


async def test_idle_sessions_expire_and_the_model_is_told(sandbox_root: Path) -> None:
    manager = SandboxManager(sandbox_settings(idle_seconds=0.2), sandbox_root)
    try:
        await manager.run("c1", "x = 1\nopen('f.txt', 'w').write('x')")
        work = session_of(manager, "c1").work_dir
        # The reaper looks every idle_seconds / 4; on a busy machine it may take longer than that.
        for _ in range(100):
            if "c1" not in manager._sessions and not work.exists() and manager.live_sessions == 0:
                break
            await asyncio.sleep(0.1)
        assert "c1" not in manager._sessions and not work.exists() and manager.live_sessions == 0
        again = await manager.run("c1", "import os\nos.listdir('.')")
        assert again.restarted_because is not None and "expired" in again.restarted_because
        assert again.value == "[]"
    finally:
        await manager.close()


async def test_beyond_the_bound_idle_sessions_give_way_and_busy_ones_refuse(sandbox_root: Path) -> None:
    manager = SandboxManager(sandbox_settings(max_sessions=2, queue_seconds=0.5), sandbox_root)
    try:
        await manager.run("a", "x = 'a'")
        await manager.run("b", "x = 'b'")
        third = await manager.run("c", "x = 'c'")  # "a" was idle longest: its sandbox goes to "c"
        assert third.session_started and manager.live_sessions == 2
        back = await manager.run("a", "'x' in globals()")
        assert back.value == "False" and "another conversation" in (back.restarted_because or "")
        busy = [asyncio.create_task(manager.run(k, "import time; time.sleep(1.5)")) for k in ("a", "c")]
        await asyncio.sleep(0.3)
        with pytest.raises(SandboxBusy, match="All 2 code interpreter sessions are busy"):
            await manager.run("d", "1")
        await asyncio.gather(*busy)
        assert (await manager.run("d", "2")).value == "2"  # a slot frees up once a call ends
    finally:
        await manager.close()


async def test_processes_threads_and_subprocesses_work_inside(manager: SandboxManager) -> None:
    code = ("import multiprocessing as mp, concurrent.futures as cf, subprocess\n"
            "def square(x):\n    return x * x\n"
            "with mp.Pool(2) as pool:\n    by_process = pool.map(square, range(5))\n"
            "with cf.ThreadPoolExecutor(4) as ex:\n    by_thread = list(ex.map(square, range(5)))\n"
            "by_process, by_thread, subprocess.run(['echo', 'hi'], capture_output=True, text=True).stdout")
    result = await manager.run("c1", code)
    assert result.error is None, result.error
    assert result.value == "([0, 1, 4, 9, 16], [0, 1, 4, 9, 16], 'hi\\n')"


async def test_a_cancelled_call_ends_its_sandbox(manager: SandboxManager) -> None:
    await manager.run("c1", "x = 1")
    uid = session_of(manager, "c1").uid
    call = asyncio.create_task(manager.run("c1", "import time\ntime.sleep(30)\ny = 2"))
    await asyncio.sleep(0.5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert uid_processes(uid) == [] and manager.live_sessions == 0
    after = await manager.run("c1", "'x' in globals(), 'y' in globals()")
    assert after.value == "(False, False)" and after.restarted_because == "a call was cancelled while it ran"


@pytest.mark.parametrize("forged", ["{'id': 999, 'value': 'forged'}", "[1]", "{'id': 1, 'value': 5}", "'x' * 2_000_000"])
async def test_a_forged_reply_ends_the_session(manager: SandboxManager, forged: str) -> None:
    code = ("import os, json\nfor fd in os.listdir('/proc/self/fd'):\n    try:\n"
            f"        os.write(int(fd), json.dumps({forged}).encode() + b'\\n')\n"
            "    except OSError:\n        pass")
    result = await manager.run("c1", code)
    assert result.value is None
    assert result.ended == "the interpreter's reply was unreadable (the code wrote to its reply channel)"


async def test_two_workers_share_the_uid_range_and_never_one_work_directory(sandbox_root: Path) -> None:
    settings = sandbox_settings(max_sessions=2, queue_seconds=0.3)
    first, second = SandboxManager(settings, sandbox_root), SandboxManager(settings, sandbox_root)
    try:
        await first.run("c1", "x = 1")
        await second.run("c2", "x = 2")
        assert session_of(first, "c1").uid != session_of(second, "c2").uid  # the uid locks are shared
        with pytest.raises(SandboxBusy, match="busy in another server process"):
            await second.run("c1", "x")
        await first.end_session("c1")
        assert (await second.run("c1", "'x' in globals()")).value == "False"
    finally:
        await first.close()
        await second.close()
