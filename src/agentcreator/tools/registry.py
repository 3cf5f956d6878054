"""Builds an assistant's tool set from its saved ``tools`` config, one factory per config ``type``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from agentcreator.core.errors import AppError
from agentcreator.llm.types import FunctionTool
from agentcreator.tools.base import Tool, ToolContext, ToolFactory

log = logging.getLogger(__name__)


@dataclass
class ToolSet:
    """The tools of one run, by name; ``skipped`` says which configured tools are not available and why."""

    tools: dict[str, Tool] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.tools)

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)

    def definitions(self) -> list[FunctionTool]:
        return [tool.definition() for tool in self.tools.values()]


class ToolRegistry:
    def __init__(self, factories: list[ToolFactory] | None = None) -> None:
        self._factories: dict[str, ToolFactory] = {}
        for factory in factories or []:
            self.register(factory)

    def register(self, factory: ToolFactory) -> None:
        self._factories[factory.type] = factory

    def factory(self, kind: str) -> ToolFactory | None:
        return self._factories.get(kind)

    def unregister(self, kind: str) -> None:
        self._factories.pop(kind, None)

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._factories)

    async def build(self, configs: list[dict[str, Any]], context: ToolContext) -> ToolSet:
        """The tools of ``configs``. A type with no factory, or a factory that fails, is skipped with a
        reason (the turn goes on without it); two tools with one name keep the first."""
        toolset = ToolSet()
        for config in configs:
            kind = str(config.get("type", ""))
            factory = self._factories.get(kind)
            if factory is None:
                toolset.skipped.append({"type": kind, "reason": "not available on this server"})
                continue
            try:
                tools = await factory.tools_for(config, context)
            except AppError as exc:  # not set up, or down: said in the answer
                toolset.skipped.append({"type": kind, "reason": exc.message})
                continue
            except Exception as exc:  # a broken config or a backend that is down: say so, run without
                log.warning("tool factory %s failed: %s", kind, exc, exc_info=True)
                toolset.skipped.append({"type": kind, "reason": str(exc) or type(exc).__name__})
                continue
            for tool in tools:
                if tool.name in toolset.tools:
                    toolset.skipped.append({"type": kind, "reason": f"duplicate tool name {tool.name}"})
                    continue
                toolset.tools[tool.name] = tool
        return toolset
