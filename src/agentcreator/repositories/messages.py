"""Messages of a conversation, ordered by ``seq`` (a per-conversation counter: ties in timestamps never
reorder messages). The caller has already checked that the conversation belongs to the user."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Conversation, Message
from agentcreator.db.types import utcnow


async def next_seq(session: AsyncSession, conversation_id: str) -> int:
    """The ``seq`` the next message of the conversation gets (1 for the first)."""
    current = (await session.execute(
        select(func.max(Message.seq)).where(Message.conversation_id == conversation_id))).scalar_one()
    return int(current or 0) + 1


async def add(session: AsyncSession, message: Message) -> Message:
    """Add a message (assigning ``seq`` when unset) and keep the conversation's ``message_count`` and
    ``last_activity_at`` in step, in the caller's transaction.

    Two writers adding to the same conversation at once could pick the same ``seq``; the chat runner
    allows one turn per conversation at a time."""
    if message.seq is None:
        message.seq = await next_seq(session, message.conversation_id)
    session.add(message)
    await session.flush()
    now = utcnow()
    await session.execute(
        update(Conversation)
        .where(Conversation.id == message.conversation_id)
        .values(message_count=Conversation.message_count + 1, last_activity_at=now, updated_at=now))
    return message


async def add_turn(session: AsyncSession, conversation_id: str, messages: list[Message],
                   active_leaf_id: str) -> None:
    """Add the messages a turn starts with (the user message, if any, and the answer's placeholder)
    with one ``seq`` lookup, one flush and one conversation update (message count, activity and the
    branch shown), in the caller's transaction; the same single-writer rule as :func:`add` applies."""
    seq = await next_seq(session, conversation_id)
    for offset, message in enumerate(messages):
        message.seq = seq + offset
    session.add_all(messages)
    await session.flush()
    now = utcnow()
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(message_count=Conversation.message_count + len(messages), last_activity_at=now, updated_at=now,
                active_leaf_id=active_leaf_id))


async def update_fields(session: AsyncSession, message_id: str, fields: dict[str, Any]) -> bool:
    """Set ``fields`` on one message; False when it no longer exists."""
    result = await session.execute(update(Message).where(Message.id == message_id).values(**fields))
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def count_for_conversation(session: AsyncSession, conversation_id: str) -> int:
    return int((await session.execute(
        select(func.count()).select_from(Message).where(Message.conversation_id == conversation_id)
    )).scalar_one())


async def list_for_conversation(session: AsyncSession, conversation_id: str, limit: int = 100,
                                offset: int = 0) -> list[Message]:
    """A page of the conversation's messages, oldest first."""
    rows = await session.execute(
        select(Message).where(Message.conversation_id == conversation_id)
        .order_by(Message.seq, Message.id).limit(limit).offset(offset))
    return list(rows.scalars())


async def recent(session: AsyncSession, conversation_id: str, limit: int) -> list[Message]:
    """The last ``limit`` messages of the conversation, returned oldest first (for context assembly)."""
    rows = await session.execute(
        select(Message).where(Message.conversation_id == conversation_id)
        .order_by(Message.seq.desc(), Message.id.desc()).limit(limit))
    return list(reversed(rows.scalars().all()))
