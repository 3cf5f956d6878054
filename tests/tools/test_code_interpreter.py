"""The code_interpreter tool over real sandboxes: what the model reads, the parts and metadata the run
loop stores, the per-session fee, and the errors the model gets."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from agentcreator.sandbox import InputFile, SandboxManager
from agentcreator.tools.base import ToolContext, ToolError
from agentcreator.tools.code_interpreter import CodeInterpreterFactory, CodeInterpreterTool
from agentcreator.tools.registry import ToolRegistry
from tests.sandbox.conftest import manager, manager_settings, sandbox_root, sandbox_settings

# The sandbox suite's fixtures (real sandboxes), used here by name.
__all__ = ["manager", "manager_settings", "sandbox_root"]

ALICE = ToolContext(user_id="u-alice", conversation_id="conv-a", assistant_id="asst-1", run_id="r1", call_id="c1")
BOB = ToolContext(user_id="u-bob", conversation_id="conv-b", assistant_id="asst-2", run_id="r2", call_id="c2")


def head(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read(4)


def attached(files: dict[str, list[InputFile]]):
    async def files_for(context: ToolContext) -> Sequence[InputFile]:
        return files.get(context.conversation_id or "", [])
    return files_for


async def test_a_csv_becomes_a_chart_part_and_a_file_path(manager: SandboxManager, tmp_path: Path) -> None:
    upload = tmp_path / "stored-file-123"
    upload.write_text("month,revenue\n" + "".join(f"2025-{m:02d},{m * 10}\n" for m in range(1, 13)))
    tool = CodeInterpreterTool(manager, attached({"conv-a": [InputFile("sales.csv", upload)]}))
    code = ("import pandas as pd, matplotlib.pyplot as plt\ndf = pd.read_csv('/mnt/data/sales.csv')\n"
            "print(df.revenue.sum())\ndf.plot(x='month', y='revenue')\nplt.show()\ndf.shape")
    result = await tool.run({"code": code}, ALICE)
    assert not result.is_error, result.output
    assert result.output.startswith("stdout:\n780\nResult:\n(12, 2)\nFiles written to /mnt/data")
    assert "- /mnt/data/chart-1.png (image/png, " in result.output
    assert result.parts == [{"type": "image", "name": "chart-1.png", "mime": "image/png",
                             "size": result.metadata["files"][0]["size"], "source": "code_interpreter"}]
    [stored] = result.metadata["files"]
    assert stored["kind"] == "image" and head(stored["path"]) == b"\x89PNG"
    assert result.metadata["code"] == code and result.metadata["session_started"] is True
    assert result.billable_calls == 1  # a new session
    again = await tool.run({"code": "int(df.revenue.max())"}, ALICE)
    assert again.output == "Result:\n120" and again.billable_calls == 0 and again.parts == []


async def test_conversations_get_separate_sessions(manager: SandboxManager) -> None:
    tool = CodeInterpreterTool(manager)
    await asyncio.gather(tool.run({"code": "who = 'alice'"}, ALICE), tool.run({"code": "who = 'bob'"}, BOB))
    assert (await tool.run({"code": "who"}, ALICE)).output == "Result:\n'alice'"
    assert (await tool.run({"code": "who"}, BOB)).output == "Result:\n'bob'"


async def test_a_traceback_is_an_error_result_the_model_reads(manager: SandboxManager) -> None:
    result = await CodeInterpreterTool(manager).run({"code": "undefined_name + 1"}, ALICE)
    assert result.is_error and result.output.startswith("Error:\nTraceback (most recent call last):")
    assert "NameError: name 'undefined_name' is not defined" in result.output


async def test_a_timeout_and_the_restart_are_told(sandbox_root: Path) -> None:
    manager = SandboxManager(sandbox_settings(timeout_seconds=2.0), sandbox_root)
    tool = CodeInterpreterTool(manager)
    try:
        await tool.run({"code": "x = 1"}, ALICE)
        stopped = await tool.run({"code": "import time\ntime.sleep(30)"}, ALICE)
        assert stopped.is_error and stopped.metadata["ended"] is not None
        assert stopped.session_ended == "the call ran longer than 2 seconds and was stopped"
        assert stopped.session_restarted is None
        assert stopped.output == ("[The Python session ended: the call ran longer than 2 seconds and was stopped. "
                                  "Its variables are lost; the next call starts a new session with the files "
                                  "in /mnt/data.]")
        fresh = await tool.run({"code": "'x' in globals()"}, ALICE)
        assert fresh.output.startswith("[New Python session: the previous one ended because the call ran longer")
        assert fresh.output.endswith("Result:\nFalse") and fresh.billable_calls == 1
        # structured for the tool card, not only in the text
        assert fresh.session_restarted == "the call ran longer than 2 seconds and was stopped"
        assert fresh.session_ended is None
        assert (await tool.run({"code": "1"}, ALICE)).session_restarted is None  # told once
    finally:
        await manager.close()


@pytest.mark.parametrize("arguments", [{}, {"code": ""}, {"code": "   "}, {"code": 42}, {"code": "x" * 100_001}])
async def test_bad_arguments_are_tool_errors(manager: SandboxManager, arguments: dict[str, object]) -> None:
    with pytest.raises(ToolError):
        await CodeInterpreterTool(manager).run(arguments, ALICE)
    assert manager.live_sessions == 0


async def test_a_missing_input_file_is_a_tool_error(manager: SandboxManager, tmp_path: Path) -> None:
    tool = CodeInterpreterTool(manager, attached({"conv-a": [InputFile("gone.csv", tmp_path / "missing")]}))
    with pytest.raises(ToolError, match=r"input file 'gone\.csv' cannot be read"):
        await tool.run({"code": "1"}, ALICE)


async def test_all_sessions_busy_is_a_clear_tool_error(sandbox_root: Path) -> None:
    manager = SandboxManager(sandbox_settings(max_sessions=1, queue_seconds=0.3), sandbox_root)
    tool = CodeInterpreterTool(manager)
    try:
        busy = asyncio.create_task(tool.run({"code": "import time; time.sleep(1)"}, ALICE))
        await asyncio.sleep(0.4)
        with pytest.raises(ToolError, match="All 1 code interpreter sessions are busy"):
            await tool.run({"code": "1"}, BOB)
        assert (await busy).output == "(no output)"
    finally:
        await manager.close()


async def test_the_factory_builds_the_tool_or_says_why_not(manager: SandboxManager) -> None:
    registry = ToolRegistry([CodeInterpreterFactory(manager)])
    toolset = await registry.build([{"type": "code_interpreter"}], ALICE)
    tool = toolset.get("code_interpreter")
    assert isinstance(tool, CodeInterpreterTool) and tool.price_key == "self_hosted_code_interpreter"
    definition = tool.definition()
    assert definition.parameters["required"] == ["code"] and "/mnt/data" in definition.description
    assert "memory 1024 MiB" in definition.description and "no network" in definition.description
    assert tool.timeout_seconds > manager.settings.timeout_seconds + manager.settings.queue_seconds

    off = await ToolRegistry([CodeInterpreterFactory(None)]).build([{"type": "code_interpreter"}], ALICE)
    assert not off and off.skipped == [{"type": "code_interpreter",
                                        "reason": "the code interpreter is turned off on this server"}]


async def test_a_run_without_a_conversation_uses_the_run(manager: SandboxManager) -> None:
    context = ToolContext(user_id="u", conversation_id=None, assistant_id=None, run_id="run-9")
    assert (await CodeInterpreterTool(manager).run({"code": "6 * 7"}, context)).output == "Result:\n42"
    with pytest.raises(ToolError, match="needs a conversation"):
        await CodeInterpreterTool(manager).run(
            {"code": "1"}, ToolContext(user_id="u", conversation_id=None, assistant_id=None))
