"""Tools an assistant's model can call during a run: one interface (:class:`Tool`), built from an
assistant's saved config by a :class:`ToolRegistry` of per-type factories. Nothing here imports
``api/``; a tool reaches the network only through ``core.outbound`` (the SSRF guard)."""

from agentcreator.tools.base import Tool, ToolContext, ToolError, ToolFactory, ToolResult
from agentcreator.tools.registry import ToolRegistry, ToolSet

__all__ = ["Tool", "ToolContext", "ToolError", "ToolFactory", "ToolRegistry", "ToolResult", "ToolSet"]
