from __future__ import annotations

from typing import Literal

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Conversation, Message
from agentcreator.repositories.assistants import icontains, plausible_id

ArchivedFilter = Literal["false", "true", "all"]


async def get_owned(session: AsyncSession, owner_id: str, conversation_id: str) -> Conversation | None:
    if not plausible_id(conversation_id):
        return None
    return (await session.execute(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.owner_id == owner_id)
    )).scalar_one_or_none()


async def list_owned(session: AsyncSession, owner_id: str, *, assistant_id: str | None = None,
                     q: str | None = None, archived: ArchivedFilter = "false",
                     limit: int = 50, offset: int = 0) -> tuple[list[Conversation], int]:
    """A page of the owner's conversations, most recent activity first, and the total matching."""
    stmt = select(Conversation).where(Conversation.owner_id == owner_id)
    if assistant_id is not None:
        if not plausible_id(assistant_id):
            return [], 0
        stmt = stmt.where(Conversation.assistant_id == assistant_id)
    if q:
        stmt = stmt.where(icontains(session.get_bind().dialect.name, Conversation.title, q))
    if archived != "all":
        stmt = stmt.where(Conversation.archived == (archived == "true"))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc()).limit(limit).offset(offset))
    return list(rows.scalars()), int(total)


async def find_empty(session: AsyncSession, owner_id: str, assistant_id: str) -> Conversation | None:
    """The owner's newest conversation with this assistant that has no message yet (not archived, not a
    continuation, not continued): what "Start chat" reopens instead of making another empty one."""
    has_message = exists(select(Message.id).where(Message.conversation_id == Conversation.id))
    return (await session.execute(
        select(Conversation)
        .where(Conversation.owner_id == owner_id, Conversation.assistant_id == assistant_id,
               Conversation.archived.is_(False), Conversation.parent_id.is_(None),
               Conversation.continued_in_id.is_(None), Conversation.message_count == 0, ~has_message)
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(1)
    )).scalar_one_or_none()


async def add(session: AsyncSession, conversation: Conversation) -> Conversation:
    session.add(conversation)
    await session.flush()
    return conversation


async def ids_of_owner(session: AsyncSession, owner_id: str) -> list[str]:
    """Every conversation id of a user (a user being deleted: their code interpreter sessions end)."""
    rows = await session.execute(select(Conversation.id).where(Conversation.owner_id == owner_id))
    return list(rows.scalars())


async def delete_owned(session: AsyncSession, owner_id: str, conversation_id: str) -> bool:
    """Delete one conversation; its messages go with it (FK ON DELETE CASCADE)."""
    result = await session.execute(
        delete(Conversation).where(Conversation.id == conversation_id, Conversation.owner_id == owner_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]
