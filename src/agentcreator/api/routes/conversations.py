"""Conversations of the current user and their messages. Ownership is the ``OwnedConversation``
dependency: another user's conversation is "not found", never "forbidden"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import StreamingResponse

from agentcreator.api.deps import (
    AppStateDep,
    CurrentUser,
    FileServiceDep,
    ModelValidatorDep,
    OwnedConversation,
    SessionDep,
)
from agentcreator.api.schemas.conversations import (
    ConversationCreate,
    ConversationPublic,
    ConversationsPublic,
    ConversationUpdate,
    MessagePublic,
    MessageSearchHit,
    MessageSearchResults,
    MessagesPublic,
)
from agentcreator.files.names import content_disposition
from agentcreator.repositories.conversations import ArchivedFilter
from agentcreator.services.conversation_export import ExportFormat, export_filename, load_export
from agentcreator.services.conversation_export_formats import json_bytes, markdown, zip_stream
from agentcreator.services.conversations import ConversationService
from agentcreator.services.fair_use import admit_export
from agentcreator.services.files import files_of_conversation
from agentcreator.tools.code_interpreter import conversation_session_key

router = APIRouter(prefix="/api/conversations", tags=["conversations"])

Offset = Annotated[int, Query(ge=0, le=1_000_000)]


async def conversation_service(session: SessionDep, user: CurrentUser,
                               validate_model: ModelValidatorDep) -> ConversationService:
    return ConversationService(session, user.id, validate_model)


ConversationServiceDep = Annotated[ConversationService, Depends(conversation_service)]


@router.get("", operation_id="conversations_list")
async def list_conversations(
    service: ConversationServiceDep,
    assistant_id: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Search in titles (case-insensitive)")] = None,
    archived: Annotated[ArchivedFilter, Query(description="false (default), true, or all")] = "false",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Offset = 0,
) -> ConversationsPublic:
    items, count = await service.list(assistant_id=assistant_id, q=q, archived=archived,
                                      limit=limit, offset=offset)
    return ConversationsPublic(data=[ConversationPublic.model_validate(c) for c in items], count=count)


@router.post("", operation_id="conversations_create", status_code=status.HTTP_201_CREATED)
async def create_conversation(body: ConversationCreate, service: ConversationServiceDep) -> ConversationPublic:
    return ConversationPublic.model_validate(
        await service.create(body.assistant_id, body.title, reuse_empty=body.reuse_empty))


@router.get("/search", operation_id="conversations_search_messages")
async def search_messages(
    service: ConversationServiceDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words to find in message text")],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> MessageSearchResults:
    """Your messages whose text contains every word of ``q`` (as word prefixes), newest first, with a
    snippet; archived conversations are included (``archived`` says so)."""
    hits = await service.search_messages(q, limit=limit)
    data = [MessageSearchHit(message_id=h.message_id, role=h.role, snippet=snip, created_at=h.created_at,
                             conversation_id=h.conversation_id, conversation_title=h.conversation_title,
                             archived=h.archived) for h, snip in hits]
    return MessageSearchResults(data=data, count=len(data))


@router.get("/{conversation_id}", operation_id="conversations_get")
async def get_conversation(conversation: OwnedConversation) -> ConversationPublic:
    return ConversationPublic.model_validate(conversation)


@router.patch("/{conversation_id}", operation_id="conversations_update")
async def update_conversation(conversation: OwnedConversation, body: ConversationUpdate,
                              service: ConversationServiceDep) -> ConversationPublic:
    updated = await service.update(conversation, body.model_dump(exclude_unset=True))
    return ConversationPublic.model_validate(updated)


@router.delete("/{conversation_id}", operation_id="conversations_delete",
               status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(conversation: OwnedConversation, service: ConversationServiceDep,
                              files: FileServiceDep, state: AppStateDep) -> None:
    """Delete the conversation, its messages and the files attached in it (and its code interpreter
    session with the copies of those files)."""
    doomed = await files_of_conversation(service.session, conversation.owner_id, conversation.id)
    await service.delete(conversation)  # the file rows go by the foreign key
    await files.discard_unused(doomed)
    await state.sandbox.end_session(conversation_session_key(conversation.id))


@router.get("/{conversation_id}/messages", operation_id="conversations_list_messages")
async def list_messages(
    conversation: OwnedConversation,
    service: ConversationServiceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> MessagesPublic:
    items, count = await service.messages(conversation, limit=limit, offset=offset)
    return MessagesPublic(data=[MessagePublic.model_validate(m) for m in items], count=count)


EXPORT_MEDIA_TYPES: dict[str, str] = {"json": "application/json", "markdown": "text/markdown; charset=utf-8",
                                      "zip": "application/zip"}
EXPORT_EXTENSIONS = {"json": "json", "markdown": "md", "zip": "zip"}
_EXPORT_DOC: dict[int | str, dict[str, object]] = {200: {
    "description": "The export, as a download",
    "content": {"application/json": {}, "text/markdown": {}, "application/zip": {}}}}


@router.get("/{conversation_id}/export", operation_id="conversations_export", response_class=StreamingResponse,
            responses=_EXPORT_DOC)
async def export_conversation(
    conversation: OwnedConversation, session: SessionDep, files: FileServiceDep, state: AppStateDep,
    export_format: Annotated[ExportFormat, Query(
        alias="format", description="json: the versioned document; markdown: a transcript; zip: both and the files")],
) -> Response:
    """The branch being shown, with each attachment's metadata (a deleted file marked deleted), as a
    download named after the title. The ZIP is streamed; it holds ``conversation.md``, the files under
    ``files/`` and ``conversation.json``. At most ``FAIR_USE__EXPORTS_PER_MINUTE`` per user (429)."""
    await admit_export(state.fair_use, state.rate_limiter, conversation.owner_id)
    export = await load_export(session, conversation)
    filename = export_filename(export.title, EXPORT_EXTENSIONS[export_format])
    headers = {"Content-Disposition": content_disposition(filename, inline=False),
               "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    media_type = EXPORT_MEDIA_TYPES[export_format]
    if export_format == "zip":  # the session closes when this returns, before the first byte is streamed
        return StreamingResponse(zip_stream(export, files.storage), media_type=media_type, headers=headers)
    body = json_bytes(export.document()) if export_format == "json" else markdown(export).encode("utf-8")
    return Response(body, media_type=media_type, headers=headers)
