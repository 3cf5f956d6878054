"""MCP tools: admin-registered MCP servers whose tools assistants use (docs/mcp.md).

- :mod:`.config`: the server configuration the client needs, and the directory that finds servers;
- :mod:`.connection`: one client session, owned by its own task;
- :mod:`.reasons`: why a call failed, for users and the model, and in full for admins;
- :mod:`.pool`: the per-process pool of sessions and the tool-list cache;
- :mod:`.results`: MCP results as tool results;
- :mod:`.factory`: the ``mcp`` tool type and the function names of MCP tools.
"""

from agentcreator.tools.mcp.config import McpServerConfig, McpServerDirectory, McpToolError, McpToolInfo
from agentcreator.tools.mcp.factory import McpTool, McpToolFactory, function_names
from agentcreator.tools.mcp.pool import McpClientPool
from agentcreator.tools.mcp.reasons import describe_in_full
from agentcreator.tools.mcp.results import to_tool_result

__all__ = ["McpClientPool", "McpServerConfig", "McpServerDirectory", "McpTool", "McpToolError", "McpToolFactory",
           "McpToolInfo", "describe_in_full", "function_names", "to_tool_result"]
