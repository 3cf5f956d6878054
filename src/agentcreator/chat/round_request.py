"""The model request of one round of a run: the base request with the run's messages so far and its
tools. Shared by the run loop and by the turn's start, which may send a run's first call early
(chat/turn_draft) and must send exactly what the loop would."""

from __future__ import annotations

from typing import Any

from agentcreator.llm.types import ModelRequest
from agentcreator.tools import ToolSet


def round_request(base: ModelRequest, toolset: ToolSet, messages: list[Any], definitions: list[Any], *,
                  index: int, max_rounds: int, first: bool, full_reply: int) -> ModelRequest:
    """Round ``index``'s request. The last round is sent with ``tool_choice: none`` (the run ends with
    an answer); the run's first round keeps the reply allowance its reservation was made for (a budget
    may have capped it), later rounds get the full one (``full_reply``)."""
    last = index == max_rounds - 1
    return base.model_copy(update={"messages": list(messages), "tools": definitions,
                                   "tool_choice": "none" if last and definitions else None,
                                   "max_output_tokens": base.max_output_tokens if first else full_reply,
                                   "hosted_tools": toolset.hosted,
                                   "max_hosted_calls": toolset.max_hosted_calls if toolset.hosted else None})
