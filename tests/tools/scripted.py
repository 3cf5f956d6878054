"""In-process tools for run-loop tests, built by a real ``ToolFactory`` for config type ``function``:
the test registers it on the app's tool registry for the test's duration (and puts back what was
there). Each tool does real work in-process; nothing is patched."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agentcreator.tools import Tool, ToolContext, ToolError, ToolRegistry, ToolResult
from agentcreator.tools.http_functions import ClientFunctionTool


class AddTool(Tool):
    name = "add"
    description = "Add two numbers."
    parameters = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                  "required": ["a", "b"]}
    activity = "Adding…"

    def __init__(self, log: list[tuple[str, dict[str, Any], ToolContext]]) -> None:
        self.log = log

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        self.log.append((self.name, arguments, context))
        try:
            return ToolResult(output=str(arguments["a"] + arguments["b"]))
        except (KeyError, TypeError) as exc:
            raise ToolError(f"add needs two numbers a and b ({exc})") from exc


class GateTool(Tool):
    """Waits until the other gate tool started too (proves calls run concurrently), or forever."""

    description = "Wait at a gate."

    def __init__(self, name: str, gates: dict[str, asyncio.Event], started: asyncio.Event) -> None:
        self.name = name
        self.gates = gates
        self.started = started

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        self.gates[self.name].set()
        self.started.set()
        others = [event for name, event in self.gates.items() if name != self.name]
        for other in others:
            await other.wait()
        if arguments.get("hang"):
            await asyncio.Event().wait()
        return ToolResult(output=f"{self.name} passed")


class FailingTool(Tool):
    name = "fail"
    description = "Always fails."

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raise ToolError("the upstream service said no")


class BrokenTool(Tool):
    name = "broken"
    description = "Has a bug."

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        return ToolResult(output=str(1 / 0))


class SlowTool(Tool):
    name = "slow"
    description = "Takes longer than its timeout."
    timeout_seconds = 0.2

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        await asyncio.sleep(30)
        return ToolResult(output="too late")


class PaidTool(Tool):
    name = "paid_search"
    description = "A tool with a per-call fee."
    price_key = "web_search"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        return ToolResult(output="results", parts=[{"type": "citation", "title": "Example", "url": "https://example.com/"}])


class ScriptedFunctions:
    """A factory for config type ``function``: each configured function name maps to a tool above."""

    type = "function"

    def __init__(self) -> None:
        self.log: list[tuple[str, dict[str, Any], ToolContext]] = []
        self.gates: dict[str, asyncio.Event] = {"gate_a": asyncio.Event(), "gate_b": asyncio.Event()}
        self.started = asyncio.Event()

    def _tool(self, name: str) -> Tool | None:
        if name.startswith("client_"):  # run by the API caller: the run pauses in requires_action
            return ClientFunctionTool(name, f"The {name} function", {"type": "object", "properties": {}})
        if name == "add":
            return AddTool(self.log)
        if name in self.gates:
            return GateTool(name, self.gates, self.started)
        return {"fail": FailingTool, "broken": BrokenTool, "slow": SlowTool, "paid_search": PaidTool}.get(name, lambda: None)()

    async def tools_for(self, config: dict[str, Any], context: ToolContext) -> list[Tool]:
        tool = self._tool(config["name"])
        if tool is None:
            raise ValueError(f"no scripted function {config['name']}")
        return [tool]


@contextmanager
def scripted_functions(registry: ToolRegistry) -> Iterator[ScriptedFunctions]:
    previous = registry.factory("function")  # put back whatever the app had
    factory = ScriptedFunctions()
    registry.register(factory)
    try:
        yield factory
    finally:
        if previous is not None:
            registry.register(previous)
        else:
            registry.unregister("function")


def function(name: str) -> dict[str, Any]:
    return {"type": "function", "name": name, "description": f"The {name} tool",
            "parameters": {"type": "object", "properties": {}}}
