"""Owner-scoped queries on files. Never commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Conversation, File, Message
from agentcreator.repositories.assistants import plausible_id


async def get_owned(session: AsyncSession, owner_id: str, file_id: str) -> File | None:
    if not plausible_id(file_id):
        return None
    return (await session.execute(
        select(File).where(File.id == file_id, File.owner_id == owner_id))).scalar_one_or_none()


async def get_many_owned(session: AsyncSession, owner_id: str, file_ids: Sequence[str]) -> dict[str, File]:
    """The owner's files among ``file_ids`` by id (others' and unknown ids are simply absent)."""
    wanted = [i for i in set(file_ids) if plausible_id(i)]
    if not wanted:
        return {}
    rows = await session.execute(select(File).where(File.owner_id == owner_id, File.id.in_(wanted)))
    return {f.id: f for f in rows.scalars()}


async def list_owned(session: AsyncSession, owner_id: str, *, limit: int = 50,
                     offset: int = 0) -> tuple[list[File], int]:
    total = (await session.execute(select(func.count()).where(File.owner_id == owner_id))).scalar_one()
    rows = await session.execute(select(File).where(File.owner_id == owner_id)
                                 .order_by(File.created_at.desc(), File.id.desc()).limit(limit).offset(offset))
    return list(rows.scalars()), int(total)


async def used_bytes(session: AsyncSession, owner_id: str) -> int:
    """The owner's stored bytes, each distinct stored file counted once."""
    distinct_files = select(File.storage_key, func.max(File.size).label("size")) \
        .where(File.owner_id == owner_id).group_by(File.storage_key).subquery()
    return int((await session.execute(select(func.coalesce(func.sum(distinct_files.c.size), 0)))).scalar_one())


async def find_same_bytes(session: AsyncSession, owner_id: str, sha256: str) -> File | None:
    return (await session.execute(
        select(File).where(File.owner_id == owner_id, File.sha256 == sha256).limit(1))).scalar_one_or_none()


async def add(session: AsyncSession, file: File) -> File:
    session.add(file)
    await session.flush()
    return file


async def delete_rows(session: AsyncSession, files: Iterable[File]) -> None:
    ids = [f.id for f in files]
    if ids:
        await session.execute(delete(File).where(File.id.in_(ids)))


async def keys_still_used(session: AsyncSession, storage_keys: Iterable[str]) -> set[str]:
    """Which of these storage keys some row still points to."""
    keys = list(set(storage_keys))
    if not keys:
        return set()
    rows = await session.execute(select(File.storage_key).where(File.storage_key.in_(keys)).distinct())
    return set(rows.scalars())


async def of_conversation(session: AsyncSession, owner_id: str, conversation_id: str) -> list[File]:
    rows = await session.execute(select(File).where(File.owner_id == owner_id,
                                                    File.conversation_id == conversation_id))
    return list(rows.scalars())


async def of_assistant(session: AsyncSession, owner_id: str, assistant_id: str) -> list[File]:
    rows = await session.execute(select(File).where(File.owner_id == owner_id, File.assistant_id == assistant_id))
    return list(rows.scalars())


async def of_owner(session: AsyncSession, owner_id: str) -> list[File]:
    return list((await session.execute(select(File).where(File.owner_id == owner_id))).scalars())


async def attach_to_conversation(session: AsyncSession, owner_id: str, file_ids: Sequence[str],
                                 conversation_id: str) -> None:
    """Files attached to a message belong to that conversation from then on (the first one wins)."""
    if file_ids:
        await session.execute(update(File).where(
            File.owner_id == owner_id, File.id.in_(list(file_ids)), File.conversation_id.is_(None),
        ).values(conversation_id=conversation_id))


async def messages_using(session: AsyncSession, owner_id: str,
                         file_ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """For each file id, the owner's messages whose content has a part pointing to it. The database
    narrows by text match on the serialized content; the parts themselves are checked here."""
    if not file_ids:
        return {}
    content_text = cast(Message.content, String)
    rows = await session.execute(
        select(Message.id, Message.conversation_id, Message.content)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.owner_id == owner_id, or_(*(content_text.contains(i) for i in file_ids))))
    wanted = set(file_ids)
    uses: dict[str, list[dict[str, str]]] = {i: [] for i in file_ids}
    for message_id, conversation_id, content in rows:
        for part in _file_parts(content):
            if part.get("file_id") in wanted:
                uses[part["file_id"]].append({"message_id": message_id, "conversation_id": conversation_id})
    return uses


def _file_parts(content: Any) -> list[dict[str, Any]]:
    return [p for p in content or [] if isinstance(p, dict) and p.get("type") == "file"]


async def all_storage_keys(session: AsyncSession) -> set[str]:
    """Every key any row points to (for the sweep)."""
    rows = await session.execute(select(File.storage_key, File.model_key, File.thumbnail_key, File.text_key))
    return {key for row in rows for key in row if key}


async def rows_page(session: AsyncSession, after_id: str, limit: int) -> list[File]:
    """All rows in id order, a page at a time (for the sweep)."""
    rows = await session.execute(select(File).where(File.id > after_id).order_by(File.id).limit(limit))
    return list(rows.scalars())
