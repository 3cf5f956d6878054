"""Files attached to chat messages: the parts a send or an edit stores (owner-scoped, capability-checked
before anything is saved), and the descriptors the context builder needs to give them to the model.

Wiring (chat core, by the lead): the chat routes call :func:`parts_for_turn` and, once the turn started,
``FileService.attach``; the context builder calls :func:`load_attached_files` in its loading session and
``files.for_model.model_parts`` for each user message after closing it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.core.errors import NotFound, ValidationFailed
from agentcreator.db.models import File
from agentcreator.db.session import session_scope
from agentcreator.files.for_model import StoredFile, ensure_can_see_images, file_ids_in, has_image_attachments
from agentcreator.llm.errors import ModelNotFound
from agentcreator.llm.registry import ModelRegistry
from agentcreator.repositories import files as file_repo
from agentcreator.repositories import turns as turn_repo
from agentcreator.services.files import FileService


async def parts_for_turn(files: FileService, models: ModelRegistry, sessions: async_sessionmaker[AsyncSession],
                         owner_id: str, conversation_id: str, file_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The attachment parts for a message to ``conversation_id``: 404 for a file (or conversation) that
    is not the owner's, 422 ``model_cannot_see_images`` when the conversation's model (its assistant's unless it has
    its own) has no vision."""
    if not file_ids:
        return []
    parts = await files.attachment_parts(owner_id, file_ids)
    if not has_image_attachments(parts):
        return parts
    async with session_scope(sessions) as session:
        found = await turn_repo.turn_start(session, owner_id, conversation_id)
    if found is None:
        raise NotFound("Conversation")
    conversation, assistant = found
    if assistant is None:  # the chat service refuses the turn with its own error
        return parts
    try:  # the conversation's own model when it has one (chat/service does the same)
        _, _, info = await models.resolve(conversation.model or assistant.model)
    except ModelNotFound as exc:
        raise ValidationFailed(f"{exc.message}. Pick another model for this assistant.",
                               code="model_unavailable") from exc
    ensure_can_see_images(info, parts)
    return parts


def stored_file(row: File) -> StoredFile:
    return StoredFile(id=row.id, name=row.name, kind=row.kind, model_key=row.model_key,
                      model_mime=(row.meta or {}).get("model_mime"), model_width=row.model_width,
                      model_height=row.model_height, text_key=row.text_key, page_count=row.page_count,
                      text_truncated=row.text_truncated)


async def load_attached_files(session: AsyncSession, owner_id: str,
                              contents: Iterable[list[dict[str, Any]]]) -> dict[str, StoredFile]:
    """The owner's files that these message contents point to (deleted ones are absent)."""
    rows = await file_repo.get_many_owned(session, owner_id, file_ids_in(contents))
    return {file_id: stored_file(row) for file_id, row in rows.items()}
