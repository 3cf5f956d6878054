"""Files attached to chat messages: the parts a send or an edit stores (owner-scoped, capability-checked
before anything is saved), and the descriptors the context builder needs to give them to the model.

Wiring: the chat routes (HTTP and WebSocket) call :func:`turn_parts` and, once the turn started,
``FileService.attach`` with its ``file_ids`` (or ``ImageUrlImporter.discard`` of its ``fetched`` when the
turn was refused); the context builder calls :func:`load_attached_files` in its loading session and
``files.for_model.model_parts`` for each user message after closing it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
from agentcreator.services.image_urls import ImageUrlImporter, has_image_urls

T = TypeVar("T")


@dataclass
class TurnParts:
    """A message's parts, ready to save: its own parts (image URLs now file parts) then its attachments.
    ``file_ids``: what to attach to the conversation once the turn started; ``fetched``: the files made
    from image URLs (``discard`` them when the turn is refused after all)."""

    parts: list[dict[str, Any]]
    file_ids: list[str]
    fetched: list[File] = field(default_factory=list)


async def turn_parts(files: FileService, images: ImageUrlImporter, models: ModelRegistry,
                     sessions: async_sessionmaker[AsyncSession], owner_id: str, conversation_id: str,
                     content: list[dict[str, Any]], file_ids: Sequence[str]) -> TurnParts:
    """Everything a send or an edit checks before the chat service saves anything: the files are the
    owner's (404), the model can see the images (422), then image URLs are fetched through the SSRF
    guard and stored as the owner's files (services/image_urls.py)."""
    attached = await files.attachment_parts(owner_id, file_ids) if file_ids else []
    await _check_vision(models, sessions, owner_id, conversation_id, [*content, *attached])
    if not has_image_urls(content):
        return TurnParts([*content, *attached], list(file_ids))
    imported, fetched = await images.import_parts(owner_id, content)
    return TurnParts([*imported, *attached], [*(f.id for f in fetched), *file_ids], fetched)


async def start_with_parts(files: FileService, images: ImageUrlImporter, models: ModelRegistry,
                           sessions: async_sessionmaker[AsyncSession], owner_id: str, conversation_id: str,
                           content: list[dict[str, Any]], file_ids: Sequence[str],
                           begin: Callable[[list[dict[str, Any]]], Awaitable[T]]) -> tuple[T, TurnParts]:
    """:func:`turn_parts`, then ``begin(parts)`` (the chat service starting the turn). A turn refused after
    image URLs were fetched (a budget, a conflict, an unknown message to edit) leaves no file behind.
    The routes call this inside their fair-use admission, so fetches count against the turn rate."""
    prepared = await turn_parts(files, images, models, sessions, owner_id, conversation_id, content, file_ids)
    try:
        return await begin(prepared.parts), prepared
    except BaseException:
        await images.discard(owner_id, prepared.fetched)
        raise


async def _check_vision(models: ModelRegistry, sessions: async_sessionmaker[AsyncSession], owner_id: str,
                        conversation_id: str, parts: list[dict[str, Any]]) -> None:
    if not has_image_attachments(parts):
        return
    async with session_scope(sessions) as session:
        found = await turn_repo.turn_start(session, owner_id, conversation_id)
    if found is None:
        raise NotFound("Conversation")
    conversation, assistant = found
    if assistant is None:  # the chat service refuses the turn with its own error
        return
    try:  # the conversation's own model when it has one (chat/turn_draft does the same)
        _, _, info = await models.resolve(conversation.model or assistant.model)
    except ModelNotFound as exc:
        raise ValidationFailed(f"{exc.message}. Pick another model for this assistant.",
                               code="model_unavailable") from exc
    ensure_can_see_images(info, parts)


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
