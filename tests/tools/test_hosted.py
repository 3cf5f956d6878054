"""Where web search, file search and the code interpreter run (tools/hosted.py) and how the registry
builds a tool set with hosted tools in it."""

from __future__ import annotations

from typing import Any

import pytest

from agentcreator.llm.types import HostedTool
from agentcreator.tools import Tool, ToolContext, ToolRegistry, ToolResult
from agentcreator.tools.hosted import HostedToolPolicy, choose_hosting

ALL = frozenset({"web_search", "file_search", "code_interpreter"})
OPEN = HostedToolPolicy(enabled=ALL, vector_store_ids=frozenset({"vs_a", "vs_b"}))
CONTEXT = ToolContext(user_id="u1", conversation_id="c1", assistant_id="a1")


class _Own(Tool):
    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        return ToolResult(output="own")


class _Factory:
    def __init__(self, kind: str) -> None:
        self.type = kind

    async def tools_for(self, config: dict[str, Any], context: ToolContext) -> list[Tool]:
        return [_Own(self.type)]


@pytest.mark.parametrize(("config", "policy", "can_host", "hosted", "own", "reason"), [
    ({"type": "web_search"}, OPEN, ALL, "web_search", False, None),
    ({"type": "web_search"}, OPEN, frozenset(), None, True, None),  # a model that cannot: our own
    ({"type": "web_search"}, HostedToolPolicy(), ALL, None, True, None),  # not enabled: our own
    ({"type": "web_search", "hosting": "server"}, OPEN, ALL, None, True, None),
    ({"type": "code_interpreter", "hosting": "provider"}, OPEN, frozenset(), None, False,
     "the assistant's model cannot run it on its provider"),
    ({"type": "code_interpreter", "hosting": "provider"}, HostedToolPolicy(), ALL, None, False,
     "hosted tools are not enabled on this server (an admin sets HOSTED_TOOLS__ENABLED)"),
    ({"type": "file_search", "knowledge_base_ids": ["kb1"]}, OPEN, ALL, None, True, None),  # no store: our own
    ({"type": "file_search", "vector_store_ids": ["vs_a"]}, OPEN, ALL, "file_search", False, None),
    ({"type": "file_search", "vector_store_ids": ["vs_a"], "knowledge_base_ids": ["kb1"]}, OPEN, ALL,
     "file_search", True, None),  # both: the stores on OpenAI, the knowledge bases here
    ({"type": "file_search", "vector_store_ids": ["vs_other"], "hosting": "provider"}, OPEN, ALL, None, False,
     "no vector store shared by the admin is set"),
])
def test_choose_hosting(config: dict[str, Any], policy: HostedToolPolicy, can_host: frozenset[str],
                        hosted: str | None, own: bool, reason: str | None) -> None:
    choice = choose_hosting(config, policy, can_host)
    assert (choice.hosted.type if choice.hosted else None, choice.self_hosted, choice.reason) == (hosted, own, reason)


def test_only_stores_the_admin_shares_are_sent() -> None:
    choice = choose_hosting({"type": "file_search", "vector_store_ids": ["vs_other", "vs_b"]}, OPEN, ALL)
    assert choice.hosted == HostedTool(type="file_search", vector_store_ids=["vs_b"])


async def test_the_registry_builds_hosted_and_own_tools_with_reasons() -> None:
    registry = ToolRegistry([_Factory("web_search"), _Factory("file_search"), _Factory("code_interpreter")], OPEN)
    configs = [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_a"]},
               {"type": "file_search", "vector_store_ids": ["vs_b", "vs_a"], "knowledge_base_ids": ["kb"]},
               {"type": "code_interpreter", "hosting": "server"}]
    toolset = await registry.build(configs, CONTEXT, ALL)
    assert toolset.hosted == [HostedTool(type="web_search"),
                              HostedTool(type="file_search", vector_store_ids=["vs_a", "vs_b"])]  # one entry per type
    assert sorted(toolset.tools) == ["code_interpreter", "file_search"]
    assert toolset.max_hosted_calls == OPEN.max_calls_per_round and toolset.skipped == []
    # The same configs on a model whose provider cannot host anything: our own tools only.
    plain = await registry.build(configs, CONTEXT)
    assert plain.hosted == [] and sorted(plain.tools) == ["code_interpreter", "file_search", "web_search"]


async def test_only_tools_built_from_their_config_alone_and_run_here_build_offline(app_state: Any) -> None:
    """A run's first call goes out early only when its tools need no network or database to build and
    none runs on the provider (tools/registry ``builds_offline``)."""
    function = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
    kinds = ("function", "web_search", "file_search", "code_interpreter", "mcp")
    registry = ToolRegistry([f for kind in kinds if (f := app_state.tools.factory(kind)) is not None], OPEN)
    assert registry.builds_offline([function, {"type": "web_search"}])
    assert registry.builds_offline([])
    assert not registry.builds_offline([function, {"type": "web_search"}], ALL)  # the provider runs it
    assert registry.builds_offline([{"type": "web_search", "hosting": "server"}], ALL)
    assert not registry.builds_offline([function, {"type": "file_search", "knowledge_base_ids": ["kb"]}])
    assert not registry.builds_offline([{"type": "code_interpreter"}])
    assert not registry.builds_offline([{"type": "mcp", "server": "docs"}])  # lists its tools on the server
    assert not registry.builds_offline([{"type": "no-such-type"}])
