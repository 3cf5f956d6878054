"""The active branch of a conversation with each message's versions (siblings)."""

from __future__ import annotations

from typing import Any

from agentcreator.db.models import Message
from agentcreator.repositories.turns import branch_to


def build_thread(messages: list[Message], active_leaf_id: str | None) -> list[dict[str, Any]]:
    siblings: dict[str | None, list[Message]] = {}
    for m in messages:
        siblings.setdefault(m.parent_id, []).append(m)
    thread = []
    for m in branch_to(messages, active_leaf_id):
        group = sorted((s for s in siblings.get(m.parent_id, []) if s.role == m.role), key=lambda s: s.seq)
        ids = [s.id for s in group]
        thread.append({"message": m, "version": {"index": ids.index(m.id), "count": len(ids), "ids": ids}})
    return thread
