"""Messages of a conversation, ordered by ``seq`` (a per-conversation counter: ties in timestamps never
reorder messages). The caller has already checked that the conversation belongs to the user."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Conversation, Message
from agentcreator.db.types import new_id, utcnow

_messages = Message.__table__
_INSERT = insert(_messages)


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


class NewMessage(SimpleNamespace):
    """A message not saved yet, with every column as an attribute (``seq`` and the timestamps are set
    by :func:`insert_rows`); it reads like a loaded row and validates as a ``MessageSnapshot``."""

    id: str
    conversation_id: str
    seq: int | None
    role: str
    content: list[dict[str, Any]]
    text: str
    status: str
    error: dict[str, Any] | None
    parent_id: str | None
    model: str | None
    usage: dict[str, Any] | None
    cost_micros: int | None
    carried_from_id: str | None
    context: dict[str, Any] | None
    created_at: datetime | None
    updated_at: datetime | None


def new_message(*, conversation_id: str, role: str, parent_id: str | None,
                content: list[dict[str, Any]] | None = None, text: str = "", status: str = "complete",
                model: str | None = None, context: dict[str, Any] | None = None) -> NewMessage:
    return NewMessage(id=new_id(), conversation_id=conversation_id, seq=None, role=role, content=content or [],
                      text=text, status=status, error=None, parent_id=parent_id, model=model, usage=None,
                      cost_micros=None, carried_from_id=None, context=context, created_at=None, updated_at=None)


async def insert_rows(session: AsyncSession, messages: list[NewMessage], first_seq: int, now: datetime) -> None:
    """Insert the messages a turn starts with, numbered from ``first_seq`` and stamped ``now``, in
    one Core INSERT. The caller counts them on the conversation in the same transaction
    (:func:`agentcreator.repositories.turns.claim_turn`) and knows ``first_seq`` from a read that
    the claim proved current (the count did not move, so no message was added since)."""
    for offset, message in enumerate(messages):
        message.seq = first_seq + offset
        message.created_at = message.updated_at = now
    await session.execute(_INSERT, [vars(message) for message in messages])


_ANSWER_FIELDS = ("text", "content", "status", "error", "usage", "cost_micros", "updated_at")
_SAVE_ANSWER = (update(_messages).where(_messages.c.id == bindparam("message_id"))
                .values({name: bindparam(f"v_{name}") for name in _ANSWER_FIELDS}))


async def save_answer(session: AsyncSession, message_id: str, fields: dict[str, Any]) -> bool:
    """Set an answer's text, content, status, error, usage, cost and ``updated_at`` (all of them, in
    ``fields``) with one Core UPDATE; False when the message no longer exists."""
    params = {f"v_{name}": fields[name] for name in _ANSWER_FIELDS}
    result = await session.execute(_SAVE_ANSWER, {"message_id": message_id, **params})
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
