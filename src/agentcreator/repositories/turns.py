"""Queries the chat turn runner needs: locking a conversation, the active branch, turn state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Conversation, Message
from agentcreator.db.types import utcnow


async def lock_owned_conversation(session: AsyncSession, owner_id: str, conversation_id: str) -> Conversation | None:
    """The caller's conversation, row-locked until the transaction ends (PostgreSQL, MariaDB;
    SQLite serialises writers itself)."""
    return (await session.execute(
        select(Conversation)
        .where(Conversation.id == conversation_id, Conversation.owner_id == owner_id)
        .with_for_update()
    )).scalar_one_or_none()


async def lock_turn_state(session: AsyncSession, owner_id: str,
                          conversation_id: str) -> tuple[str | None, int, str | None] | None:
    """(active_leaf_id, message_count, continued_in_id) of the caller's conversation, row-locked
    until the transaction ends; None when it does not exist (or is not theirs)."""
    row = (await session.execute(
        select(Conversation.active_leaf_id, Conversation.message_count, Conversation.continued_in_id)
        .where(Conversation.id == conversation_id, Conversation.owner_id == owner_id)
        .with_for_update()
    )).one_or_none()
    return (row[0], int(row[1]), row[2]) if row is not None else None


async def branch_rows(session: AsyncSession, conversation_id: str) -> list[Any]:
    """The messages of a conversation with only what a turn start needs (id, parent, role, status,
    text, content, carried-over origin, seq), oldest first: no usage, context or error documents."""
    rows = await session.execute(
        select(Message.id, Message.parent_id, Message.role, Message.status, Message.text, Message.content,
               Message.carried_from_id, Message.seq)
        .where(Message.conversation_id == conversation_id).order_by(Message.seq, Message.id))
    return list(rows.all())


async def has_streaming(session: AsyncSession, conversation_id: str) -> bool:
    return bool((await session.execute(select(exists().where(
        Message.conversation_id == conversation_id, Message.status == "streaming")))).scalar())


async def get_message(session: AsyncSession, conversation_id: str, message_id: str) -> Message | None:
    return (await session.execute(
        select(Message).where(Message.id == message_id, Message.conversation_id == conversation_id)
    )).scalar_one_or_none()


async def all_messages(session: AsyncSession, conversation_id: str) -> list[Message]:
    rows = await session.execute(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq, Message.id))
    return list(rows.scalars())


def branch_to(messages: list[Any], leaf_id: str | None) -> list[Any]:
    """The chronological path from the root to ``leaf_id`` (to the newest message when unset)."""
    if not messages:
        return []
    by_id = {m.id: m for m in messages}
    node = by_id.get(leaf_id) if leaf_id else None
    if node is None:
        node = messages[-1]
    path: list[Any] = []
    seen: set[str] = set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    return list(reversed(path))


def newest_leaf_under(messages: list[Message], message_id: str) -> str:
    """The newest descendant of ``message_id`` (itself when it has none): selecting a version
    shows the latest branch that grew from it."""
    children: dict[str, list[Message]] = {}
    for m in messages:
        if m.parent_id:
            children.setdefault(m.parent_id, []).append(m)
    current = message_id
    while children.get(current):
        current = max(children[current], key=lambda m: m.seq).id
    return current


async def mark_streaming_interrupted(session: AsyncSession) -> int:
    """Messages left ``streaming`` by a crash become ``interrupted`` (called once at start-up)."""
    result = await session.execute(
        update(Message).where(Message.status == "streaming")
        .values(status="interrupted", updated_at=utcnow(),
                error={"code": "interrupted", "message": "The server stopped while this answer was streaming."}))
    return int(result.rowcount or 0)
