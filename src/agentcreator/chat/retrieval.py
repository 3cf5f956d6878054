"""Automatic retrieval for models that cannot call tools (the embedded model): the user's message is the
query, before the turn, over the knowledge bases of the assistant's ``file_search`` tool. The passages
go into the instructions within a token budget, the answer cites them, and the context report says
what was retrieved and why (each passage's lexical and dense ranks, and the notice of a base searched by
keywords only). The query's embedding is recorded as usage of the conversation and assistant (the run
does not exist yet). Runs with no DB session open."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentcreator.rag.knowledge import Knowledge
from agentcreator.rag.metering import EmbeddingFor
from agentcreator.tools.file_search import format_passages

HEADING = "Passages from the user's documents that may answer the message (cite them by their number):"
DEFAULT_TOP_K = 5


@dataclass
class Retrieved:
    text: str = ""
    citations: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def file_search_config(tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((t for t in tools or [] if t.get("type") == "file_search" and t.get("knowledge_base_ids")), None)


async def retrieve(knowledge: Knowledge, user_id: str, config: dict[str, Any], query: str,
                   token_budget: int, *, assistant_id: str | None = None,
                   conversation_id: str | None = None) -> Retrieved:
    who = EmbeddingFor(user_id=user_id, assistant_id=assistant_id, conversation_id=conversation_id)
    top_k = int(config.get("top_k") or DEFAULT_TOP_K)
    result = await knowledge.retrieve_for_turn(user_id, list(config["knowledge_base_ids"]), query, top_k,
                                               token_budget, threshold=config.get("threshold"), who=who)
    passages = result.passages
    report = {"query": query[:500], "top_k": top_k, "token_budget": token_budget,
              "notices": [n.as_dict() for n in result.notices],
              "passages": [{k: v for k, v in p.as_dict().items() if k != "text"} | {"text": p.text[:300]}
                           for p in passages]}
    if not passages:
        return Retrieved(report=report)
    return Retrieved(f"{HEADING}\n\n{format_passages(passages)}", [p.citation() for p in passages], report)
