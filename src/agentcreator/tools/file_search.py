"""The ``file_search`` tool: hybrid retrieval over the assistant's knowledge bases.

Config (one entry of an assistant's ``tools``)::

    {"type": "file_search", "knowledge_base_ids": ["..."], "top_k": 5, "threshold": 0.3}

Only the caller's own bases are searched (checked when the tool is built and again at each search).
The model reads numbered passages with their source ids; the answer keeps one citation part per
passage: ``{"type": "citation", "document_id", "file_id", "name", "page", "char_start", "char_end",
"text"}``. Each call is priced by the price table's ``file_search`` fee; the query's embedding is a usage
record of its own (kind ``embedding``) pointing to the same run and step. A base searched by keywords
only (embedded with another model, or being re-embedded) is named in a note the model reads.
"""

from __future__ import annotations

from typing import Any

from agentcreator.db.session import session_scope
from agentcreator.rag.knowledge import Knowledge
from agentcreator.rag.metering import EmbeddingFor
from agentcreator.rag.retrieve import Passage, SearchNotice
from agentcreator.repositories import knowledge as knowledge_repo
from agentcreator.tools.base import Tool, ToolContext, ToolError, ToolResult

MAX_QUERY_CHARS = 2000
MAX_TOP_K = 50


def _config_ids(config: dict[str, Any]) -> list[str]:
    ids = config.get("knowledge_base_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ToolError("file_search: knowledge_base_ids must be a list of ids")
    return ids


def format_passages(passages: list[Passage], notices: list[SearchNotice] | None = None) -> str:
    """What the model reads: one numbered block a passage, with its source id (and the notices)."""
    notes = "".join(f"\n\nNote: {n.message}" for n in notices or [])
    if not passages:
        return "No passage of the knowledge base matches this query." + notes
    blocks = []
    for n, p in enumerate(passages, start=1):
        blocks.append(f"[{n}] source: {p.document_id}:{p.chunk_id} — {p.name}, page {p.page}\n{p.text}")
    return "\n\n".join(blocks) + notes


class FileSearchTool(Tool):
    name = "file_search"
    description = ("Search the user's documents (knowledge bases attached to this assistant) and return the "
                   "passages that best match a query, each with its source. Cite the sources you use.")
    parameters = {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "What to look for, in natural language."}},
        "required": ["query"],
        "additionalProperties": False,
    }
    price_key = "file_search"
    activity = "Searching your documents…"
    timeout_seconds = 30.0

    def __init__(self, knowledge: Knowledge, base_ids: list[str], top_k: int, threshold: float | None) -> None:
        self._knowledge = knowledge
        self._base_ids = base_ids
        self._top_k = top_k
        self._threshold = threshold

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolError("file_search needs a non-empty 'query' string")
        who = EmbeddingFor(user_id=context.user_id, assistant_id=context.assistant_id,
                           conversation_id=context.conversation_id, run_id=context.run_id,
                           step_index=context.step_index, message_id=context.message_id)
        result = await self._knowledge.search(context.user_id, self._base_ids, query[:MAX_QUERY_CHARS],
                                              top_k=self._top_k, threshold=self._threshold, who=who)
        passages = result.passages
        return ToolResult(
            output=format_passages(passages, result.notices),
            parts=[p.citation() for p in passages],
            metadata={"query": query[:MAX_QUERY_CHARS], "notices": [n.as_dict() for n in result.notices],
                      "passages": [
                {"document_id": p.document_id, "chunk_id": p.chunk_id, "score": p.score, "bm25_rank": p.bm25_rank,
                 "dense_rank": p.dense_rank, "similarity": p.similarity} for p in passages]})


class FileSearchFactory:
    type = "file_search"

    def __init__(self, knowledge: Knowledge) -> None:
        self._knowledge = knowledge

    async def tools_for(self, config: dict[str, Any], context: ToolContext) -> list[Tool]:
        wanted = _config_ids(config)
        async with session_scope(self._knowledge.sessions) as session:
            owned = await knowledge_repo.owned_base_ids(session, context.user_id, wanted)
        base_ids = [i for i in wanted if i in owned]
        if not base_ids:
            raise ToolError("file_search: no knowledge base of yours is attached")
        top_k = config.get("top_k") or self._knowledge.settings.default_top_k
        threshold = config.get("threshold")
        if not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise ToolError(f"file_search: top_k must be an integer from 1 to {MAX_TOP_K}")
        if threshold is not None and (not isinstance(threshold, int | float) or not 0 <= threshold <= 1):
            raise ToolError("file_search: threshold must be a number from 0 to 1")
        return [FileSearchTool(self._knowledge, base_ids, top_k, float(threshold) if threshold is not None else None)]
