"""The file_search tool and automatic retrieval: passages with source ids and citation parts, only from
the caller's own bases, within the token budget."""

from __future__ import annotations

from typing import Any

import pytest

from agentcreator.state import AppState
from agentcreator.tools.base import ToolContext, ToolError
from agentcreator.tools.file_search import FileSearchFactory
from agentcreator.tools.registry import ToolRegistry
from tests.api.test_knowledge import library  # noqa: F401 - fixture
from tests.conftest import UserSession

CITATION_KEYS = {"type", "document_id", "file_id", "name", "page", "char_start", "char_end", "text"}


def _context(user: UserSession) -> ToolContext:
    return ToolContext(user_id=user.id, conversation_id=None, assistant_id=None)


async def test_the_tool_returns_passages_with_sources_and_citations(
        alice: UserSession, library: dict[str, Any], app_state: AppState) -> None:  # noqa: F811
    base_id = library["base"]["id"]
    registry = ToolRegistry([FileSearchFactory(app_state.knowledge)])
    toolset = await registry.build([{"type": "file_search", "knowledge_base_ids": [base_id], "top_k": 2}],
                                   _context(alice))
    tool = toolset.get("file_search")
    assert tool is not None and tool.price_key == "file_search"
    assert tool.definition().parameters["required"] == ["query"]
    result = await tool.run({"query": "Why are stratovolcano eruptions explosive?"}, _context(alice))
    assert not result.is_error and len(result.parts) == 2
    first = result.parts[0]
    assert set(first) == CITATION_KEYS and first["type"] == "citation"
    assert first["name"] == "volcanoes.md" and first["page"] == 2 and first["file_id"] is None
    assert first["document_id"] == library["documents"]["volcanoes.md"]["id"]
    assert f"source: {first['document_id']}:" in result.output and "viscous magma" in result.output
    assert result.metadata["passages"][0]["dense_rank"] is not None

    with pytest.raises(ToolError):
        await tool.run({"query": "  "}, _context(alice))
    with pytest.raises(ToolError):
        await tool.run({"query": ["not", "text"]}, _context(alice))


async def test_another_users_base_is_never_searched_by_the_tool(
        alice: UserSession, bob: UserSession, library: dict[str, Any], app_state: AppState) -> None:  # noqa: F811
    base_id = library["base"]["id"]
    registry = ToolRegistry([FileSearchFactory(app_state.knowledge)])
    toolset = await registry.build([{"type": "file_search", "knowledge_base_ids": [base_id]}], _context(bob))
    assert toolset.get("file_search") is None
    assert toolset.skipped and "no knowledge base of yours" in toolset.skipped[0]["reason"]
    # A tool built for alice but run for bob (a forged context) still finds nothing of alice's.
    alice_tool = (await registry.build([{"type": "file_search", "knowledge_base_ids": [base_id]}],
                                       _context(alice))).tools["file_search"]
    result = await alice_tool.run({"query": "tides moon"}, _context(bob))
    assert result.parts == [] and "No passage" in result.output


@pytest.mark.parametrize("config", [
    {"knowledge_base_ids": "not-a-list"}, {"knowledge_base_ids": [], "top_k": 0},
    {"knowledge_base_ids": ["x"], "top_k": 500}, {"knowledge_base_ids": ["x"], "threshold": 2}])
async def test_bad_configs_are_skipped_with_a_reason(alice: UserSession, app_state: AppState,
                                                     config: dict[str, Any]) -> None:
    registry = ToolRegistry([FileSearchFactory(app_state.knowledge)])
    toolset = await registry.build([{"type": "file_search", **config}], _context(alice))
    assert not toolset and toolset.skipped[0]["type"] == "file_search"


async def test_automatic_retrieval_stays_within_the_token_budget(
        alice: UserSession, bob: UserSession, library: dict[str, Any], app_state: AppState) -> None:  # noqa: F811
    base_id = library["base"]["id"]
    knowledge = app_state.knowledge
    everything = (await knowledge.retrieve_for_turn(alice.id, [base_id], "how do I bake bread?", 5, 10_000)).passages
    assert everything[0].name == "bread.md" and len(everything) == 5
    cost = [knowledge.embedder.count_tokens(p.text) + 16 for p in everything]
    budget = cost[0] + cost[1]
    fitted = (await knowledge.retrieve_for_turn(alice.id, [base_id], "how do I bake bread?", 5, budget)).passages
    assert sum(knowledge.embedder.count_tokens(p.text) + 16 for p in fitted) <= budget
    assert fitted[0].chunk_id == everything[0].chunk_id
    assert (await knowledge.retrieve_for_turn(bob.id, [base_id], "how do I bake bread?", 5, 10_000)).passages == []
