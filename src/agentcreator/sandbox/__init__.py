"""The code interpreter's sandbox: model-written Python in bubblewrap, one session per conversation.

Public surface: :class:`SandboxManager` (``run(session_key, code, files)``), :class:`InputFile`,
:class:`OutputFile`, :class:`ExecutionResult` and the errors. docs/sandbox.md has the threat model.
"""

from agentcreator.sandbox.errors import SandboxBusy, SandboxInputError, SandboxUnavailable
from agentcreator.sandbox.files import InputFile, OutputFile
from agentcreator.sandbox.manager import ExecutionResult, SandboxManager

__all__ = [
    "ExecutionResult",
    "InputFile",
    "OutputFile",
    "SandboxBusy",
    "SandboxInputError",
    "SandboxManager",
    "SandboxUnavailable",
]
