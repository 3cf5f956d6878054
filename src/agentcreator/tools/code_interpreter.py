"""The code interpreter tool: model-written Python in the conversation's sandbox session (sandbox/).

Config: ``{"type": "code_interpreter"}``. The session key is the conversation id, so variables and
files in /mnt/data persist across the calls (and turns) of one conversation. The files attached to
the conversation are copied in before each call, from ``files_for(context)`` which the app provides.

The result's ``parts`` hold one placeholder per file the code wrote (``image`` for pictures,
``file_ref`` for the rest) and ``metadata["files"]`` their host paths (valid until the session ends),
so the run loop can store them as the user's files and swap the placeholders for file ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from agentcreator.sandbox import ExecutionResult, InputFile, SandboxManager
from agentcreator.sandbox.errors import SandboxInputError, SandboxUnavailable
from agentcreator.tools.base import Tool, ToolContext, ToolError, ToolResult

FilesFor = Callable[[ToolContext], Awaitable[Sequence[InputFile]]]
# Keeps the files the code wrote as the user's (services/code_files) and returns the result to show.
KeepOutputs = Callable[[ToolContext, ToolResult], Awaitable[ToolResult]]
MAX_CODE_CHARS = 100_000
PACKAGES = "numpy, pandas, matplotlib, openpyxl and the standard library"


class CodeInterpreterTool(Tool):
    name = "code_interpreter"
    price_key = "self_hosted_code_interpreter"  # free until an admin prices it (OpenAI's hosted one: "code_interpreter")
    activity = "Running code…"
    parameters = {
        "type": "object",
        "properties": {"code": {"type": "string", "description": "Python 3 code to run."}},
        "required": ["code"],
        "additionalProperties": False,
    }

    def __init__(self, manager: SandboxManager, files_for: FilesFor | None = None,
                 keep_outputs: KeepOutputs | None = None) -> None:
        self.manager = manager
        self.files_for = files_for
        self.keep_outputs = keep_outputs
        settings = manager.settings
        self.timeout_seconds = (settings.timeout_seconds + settings.queue_seconds
                                + settings.start_timeout_seconds + 5.0)
        self.description = (
            "Run Python code in a stateful Jupyter-like session: variables persist between calls of this "
            "conversation, and the value of the last expression is returned. The user's files are in "
            "/mnt/data; save files for the user there (they are shared with the user). Open matplotlib "
            "figures are shown to the user after each call. Installed: " + PACKAGES + ". No internet. "
            "Limits: " + manager.limits.describe() + "."
        )

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        code = arguments.get("code")
        if not isinstance(code, str) or not code.strip():
            raise ToolError("`code` must be a non-empty string of Python code")
        if len(code) > MAX_CODE_CHARS:
            raise ToolError(f"`code` is longer than {MAX_CODE_CHARS} characters")
        key = session_key(context)
        files = list(await self.files_for(context)) if self.files_for is not None else []
        try:
            result = await self.manager.run(key, code, files)
        except (SandboxUnavailable, SandboxInputError) as exc:
            raise ToolError(exc.message) from exc
        tool_result = to_tool_result(code, result)
        if self.keep_outputs is not None:
            tool_result = await self.keep_outputs(context, tool_result)
        return tool_result


def conversation_session_key(conversation_id: str) -> str:
    """The sandbox session of a conversation (for ``SandboxManager.end_session`` when it is deleted)."""
    return f"conversation:{conversation_id}"


def session_key(context: ToolContext) -> str:
    if context.conversation_id:
        return conversation_session_key(context.conversation_id)
    if context.run_id:
        return f"run:{context.run_id}"
    raise ToolError("the code interpreter needs a conversation")


def _size(size: int) -> str:
    return f"{size} bytes" if size < 1024 else f"{size / 1024:.1f} KiB" if size < 1 << 20 else \
        f"{size / (1 << 20):.1f} MiB"


def model_output(result: ExecutionResult) -> str:
    """What the model reads."""
    lines: list[str] = []
    if result.restarted_because:
        lines.append(f"[New Python session: the previous one ended because {result.restarted_because}. "
                     "Variables from earlier calls are gone; files in /mnt/data are kept.]")
    if result.stdout:
        lines += ["stdout:", result.stdout.rstrip("\n")]
    if result.stderr:
        lines += ["stderr:", result.stderr.rstrip("\n")]
    if result.value is not None:
        lines += ["Result:", result.value]
    if result.error:
        lines += ["Error:", result.error.rstrip("\n")]
    lines += [f"[{note}]" for note in result.notes]
    if result.files:
        lines.append("Files written to /mnt/data (the user sees them"
                     + (", images inline" if any(f.is_image for f in result.files) else "") + "):")
        lines += [f"- /mnt/data/{f.name} ({f.mime}, {_size(f.size)})" for f in result.files]
    if result.ended:
        lines.append(f"[The Python session ended: {result.ended}. Its variables are lost; the next call "
                     "starts a new session with the files in /mnt/data.]")
    if not lines:
        lines.append("(no output)")
    return "\n".join(lines)


def to_tool_result(code: str, result: ExecutionResult) -> ToolResult:
    parts = [{"type": "image" if f.is_image else "file_ref", "name": f.name, "mime": f.mime, "size": f.size,
              "source": "code_interpreter"} for f in result.files]
    return ToolResult(
        output=model_output(result),
        parts=parts,
        is_error=bool(result.error or result.ended),
        billable_calls=1 if result.session_started else 0,  # the fee is per session, as OpenAI's
        session_restarted=result.restarted_because,
        session_ended=result.ended,
        cpu_seconds=result.cpu_seconds,
        metadata={
            "code": code,
            "stdout": result.stdout,
            "stderr": result.stderr,
            "value": result.value,
            "error": result.error,
            "notes": result.notes,
            "files": [{"name": f.name, "path": str(f.path), "size": f.size, "mime": f.mime,
                       "kind": "image" if f.is_image else "file"} for f in result.files],
            "session_started": result.session_started,
            "restarted_because": result.restarted_because,
            "ended": result.ended,
            "cpu_seconds": result.cpu_seconds,
            "duration_seconds": result.duration_seconds,
        },
    )


class CodeInterpreterFactory:
    """``{"type": "code_interpreter"}`` -> the tool, when the sandbox can run on this server."""

    type = "code_interpreter"

    def __init__(self, manager: SandboxManager | None, files_for: FilesFor | None = None,
                 keep_outputs: KeepOutputs | None = None) -> None:
        self.manager = manager
        self.files_for = files_for
        self.keep_outputs = keep_outputs

    async def tools_for(self, config: dict[str, Any], context: ToolContext) -> list[Tool]:
        if self.manager is None or not self.manager.settings.enabled:
            raise SandboxUnavailable("the code interpreter is turned off on this server")
        await asyncio.to_thread(self.manager.check)
        return [CodeInterpreterTool(self.manager, self.files_for, self.keep_outputs)]
