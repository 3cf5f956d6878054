"""The tool interface.

A :class:`Tool` has a name, a description, a JSON schema for its arguments, a timeout and a price
key, and ``run(arguments, context) -> ToolResult``. The run loop (``chat/``) validates nothing about
the arguments beyond JSON: a tool checks its own and raises :class:`ToolError` with a message for the
model. Every failure (``ToolError``, a timeout, an unexpected exception) becomes an error result that
goes back to the model: a failing tool never breaks the run.

``ToolResult.output`` is what the model reads (text, capped by the loop). ``ToolResult.parts`` are
typed parts for the answer and the UI (citations, file references, images), stored with the call.

A tool with ``client_side = True`` is never run on the server: the run pauses in ``requires_action``
until the API caller submits its output.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentcreator.core.errors import AppError
from agentcreator.llm.types import FunctionTool

DEFAULT_TIMEOUT_SECONDS = 30.0


class ToolError(AppError):
    """A tool failed in a way the model should read (bad arguments, upstream down, timeout)."""

    status_code = 502
    code = "tool_error"


@dataclass(frozen=True)
class ToolContext:
    """Who a tool runs for. Tools scope everything they touch by ``user_id``."""

    user_id: str
    conversation_id: str | None
    assistant_id: str | None
    run_id: str | None = None
    call_id: str | None = None
    step_index: int | None = None  # the run's step the call belongs to (usage records point to it)
    message_id: str | None = None


@dataclass
class ToolResult:
    output: str
    parts: list[dict[str, Any]] = field(default_factory=list)
    is_error: bool = False
    # Billable units beyond the call itself (e.g. a code session started): priced by price key.
    billable_calls: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)
    # A stateful tool (the code interpreter's Python session): why the session this call ran in is a new
    # one, its earlier state lost (``session_restarted``), and why this call ended it (``session_ended``).
    # The UI shows them on the tool card; ``output`` tells the model too.
    session_restarted: str | None = None
    session_ended: str | None = None
    # CPU seconds the call used where the tool measures them (the code interpreter): kept on the run step.
    cpu_seconds: float | None = None

    @classmethod
    def error(cls, message: str) -> ToolResult:
        return cls(output=message, is_error=True, billable_calls=0)


class Tool(ABC):
    name: str
    description: str = ""
    parameters: dict[str, Any] = {"type": "object", "properties": {}}
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    # The key of this tool's per-call fee in the price table (``tools`` section); None: free.
    price_key: str | None = None
    # Run by the API caller, not the server: the run waits in ``requires_action``.
    client_side: bool = False
    # A short line the UI shows while the tool works ("Searching the web…").
    activity: str = "Working…"

    @abstractmethod
    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        """Do the work. Raise :class:`ToolError` for failures the model should read."""

    def definition(self) -> FunctionTool:
        return FunctionTool(name=self.name, description=self.description, parameters=self.parameters)


class ToolFactory(Protocol):
    """Builds tools from one entry of an assistant's ``tools`` config (``{"type": ..., ...}``).

    Registered by ``type`` in the :class:`~agentcreator.tools.registry.ToolRegistry`; built in the
    app's lifespan with whatever the tools need (settings, DB sessions, the sandbox manager). A factory
    whose ``tools_for`` reads nothing but the config (no network, no database) says so with a class
    attribute ``builds_offline = True``: a run with only such tools sends its first call early."""

    type: str

    async def tools_for(self, config: dict[str, Any], context: ToolContext) -> list[Tool]: ...
