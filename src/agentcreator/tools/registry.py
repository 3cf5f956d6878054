"""Builds an assistant's tool set from its saved ``tools`` config, one factory per config ``type``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from agentcreator.core.errors import AppError
from agentcreator.llm.types import FunctionTool, HostedTool
from agentcreator.tools.base import Tool, ToolContext, ToolFactory
from agentcreator.tools.hosted import HOSTABLE_TYPES, HostedToolPolicy, choose_hosting

log = logging.getLogger(__name__)


@dataclass
class ToolSet:
    """The tools of one run, by name; ``hosted``: the tools the provider runs inside the model call;
    ``skipped`` says which configured tools are not available and why."""

    tools: dict[str, Tool] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    hosted: list[HostedTool] = field(default_factory=list)
    max_hosted_calls: int | None = None  # per model call, with hosted tools

    def __bool__(self) -> bool:
        return bool(self.tools or self.hosted)

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)

    def add_hosted(self, tool: HostedTool) -> None:
        """One entry per hosted type (OpenAI refuses two): a second file_search adds its stores."""
        for index, known in enumerate(self.hosted):
            if known.type == tool.type:
                ids = known.vector_store_ids + [i for i in tool.vector_store_ids if i not in known.vector_store_ids]
                self.hosted[index] = known.model_copy(update={"vector_store_ids": ids})
                return
        self.hosted.append(tool)

    def definitions(self) -> list[FunctionTool]:
        return [tool.definition() for tool in self.tools.values()]


class ToolRegistry:
    def __init__(self, factories: list[ToolFactory] | None = None, hosted: HostedToolPolicy | None = None) -> None:
        self.hosted = hosted or HostedToolPolicy()  # what the admin lets the provider run (tools/hosted)
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

    @staticmethod
    def can_host(model_hosted_tools: list[str], provider_hosted_types: frozenset[str]) -> frozenset[str]:
        """The hosted tools a model declares that its provider's protocol can send (OpenAI's only)."""
        return frozenset(model_hosted_tools) & provider_hosted_types

    def builds_offline(self, configs: list[dict[str, Any]], model_can_host: frozenset[str] = frozenset()) -> bool:
        """Whether :meth:`build` makes these tools from the saved configs alone (no network, no
        database: factories with ``builds_offline``) and none runs on the provider: then a run's first
        model call can go out before the turn is written (chat/turn_draft)."""
        for config in configs:
            kind = str(config.get("type", ""))
            if kind in HOSTABLE_TYPES and choose_hosting(config, self.hosted, model_can_host).hosted is not None:
                return False
            if not getattr(self._factories.get(kind), "builds_offline", False):
                return False
        return True

    async def build(self, configs: list[dict[str, Any]], context: ToolContext,
                    model_can_host: frozenset[str] = frozenset()) -> ToolSet:
        """The tools of ``configs``. A type with no factory, or a factory that fails, is skipped with a
        reason (the turn goes on without it); two tools with one name keep the first. Web search,
        file search and the code interpreter run on the provider instead when ``model_can_host`` (the
        hosted tools the model and its provider can run) and the config allow it (tools/hosted)."""
        toolset = ToolSet(max_hosted_calls=self.hosted.max_calls_per_round)
        for config in configs:
            kind = str(config.get("type", ""))
            if kind in HOSTABLE_TYPES:
                choice = choose_hosting(config, self.hosted, model_can_host)
                if choice.hosted is not None:
                    toolset.add_hosted(choice.hosted)
                if choice.reason is not None:
                    toolset.skipped.append({"type": kind, "reason": choice.reason})
                if not choice.self_hosted:
                    continue
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
