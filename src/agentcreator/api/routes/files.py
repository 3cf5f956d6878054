"""Files of the current user: upload (multipart, streamed to storage), list with usage, read, delete,
download. Another user's file is "not found" on every route.

Downloads carry ``X-Content-Type-Options: nosniff`` and a sandboxing CSP, and are attachments except
for raster images (PNG, JPEG, WebP, GIF); HTML (and anything else) is never served inline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse

from agentcreator.api.deps import AppStateDep, CurrentUser, FileServiceDep
from agentcreator.api.schemas.files import FilePublic, FilesPublic, FileUse, StorageUse
from agentcreator.db.models import File
from agentcreator.files.names import content_disposition
from agentcreator.services.fair_use import admit_upload

router = APIRouter(prefix="/api/files", tags=["files"])

INLINE_MIMES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
                    "Cache-Control": "private, max-age=3600"}
UPLOAD_PATH = "/api/files"
UPLOAD_OPENAPI: dict[str, object] = {"requestBody": {"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "purpose": {"type": "string", "enum": ["vision", "assistants"],
                    "description": "Inferred from the content when absent: images 'vision', documents 'assistants'"},
    }}}}}}


def _public(file: File, uses: list[dict[str, str]] | None = None) -> FilePublic:
    public = FilePublic.model_validate(file)
    public.has_thumbnail = file.thumbnail_key is not None
    public.used_in = [FileUse(**use) for use in uses or []]
    return public


@router.post("", operation_id="files_upload", status_code=status.HTTP_201_CREATED, openapi_extra=UPLOAD_OPENAPI)
async def upload_file(request: Request, user: CurrentUser, files: FileServiceDep, state: AppStateDep) -> FilePublic:
    """Upload one file (multipart field ``file``). The type is read from the content; 413 past the size
    limit or the quota, 415 for a type not accepted or a content that contradicts the name, 429 past the
    uploads per minute (fair use)."""
    await admit_upload(state.fair_use, state.rate_limiter, user.id)
    length = request.headers.get("content-length")
    stored = await files.upload(user.id, request.stream(), request.headers.get("content-type"),
                                int(length) if length and length.isdigit() else None)
    return _public(stored)


@router.get("", operation_id="files_list")
async def list_files(user: CurrentUser, files: FileServiceDep,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50,
                     offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> FilesPublic:
    """Your files, newest first, with the messages that use each, and your storage use."""
    listing = await files.listing(user.id, limit=limit, offset=offset)
    settings = files.settings
    return FilesPublic(data=[_public(f, listing.uses.get(f.id)) for f in listing.files], count=listing.count,
                       storage=StorageUse(used_bytes=listing.used_bytes, quota_bytes=settings.user_quota_bytes,
                                          max_file_bytes=settings.max_file_bytes))


@router.get("/{file_id}", operation_id="files_get")
async def get_file(file_id: str, user: CurrentUser, files: FileServiceDep) -> FilePublic:
    file, uses = await files.get(user.id, file_id)
    return _public(file, uses)


@router.delete("/{file_id}", operation_id="files_delete", status_code=status.HTTP_204_NO_CONTENT)
async def delete_file(file_id: str, user: CurrentUser, files: FileServiceDep) -> None:
    """Delete the file; messages that used it show it as deleted."""
    await files.delete(user.id, file_id)


_DOWNLOAD_DOC: dict[int | str, dict[str, object]] = {
    200: {"description": "The file's bytes", "content": {"application/octet-stream": {}}}}


@router.get("/{file_id}/content", operation_id="files_content", response_class=StreamingResponse,
            responses=_DOWNLOAD_DOC)
async def file_content(file_id: str, user: CurrentUser, files: FileServiceDep) -> StreamingResponse:
    """The stored file (images: without metadata, orientation applied)."""
    file = await files.stored_key(user.id, file_id, "content")
    media_type = file.mime
    if file.meta.get("encoding") and file.mime.startswith("text/"):
        media_type = f"{file.mime}; charset={file.meta['encoding'].removesuffix('-sig')}"
    headers = {**DOWNLOAD_HEADERS, "Content-Length": str(file.size),
               "Content-Disposition": content_disposition(file.name, inline=file.mime in INLINE_MIMES)}
    return StreamingResponse(files.storage.iter_chunks(file.storage_key), media_type=media_type, headers=headers)


@router.get("/{file_id}/thumbnail", operation_id="files_thumbnail", response_class=StreamingResponse,
            responses=_DOWNLOAD_DOC)
async def file_thumbnail(file_id: str, user: CurrentUser, files: FileServiceDep) -> StreamingResponse:
    """A small preview of an image (404 for documents)."""
    file = await files.stored_key(user.id, file_id, "thumbnail")
    assert file.thumbnail_key is not None  # checked by stored_key
    headers = {**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(f"thumbnail-{file.name}", inline=True)}
    return StreamingResponse(files.storage.iter_chunks(file.thumbnail_key),
                             media_type=file.meta.get("thumbnail_mime", "image/webp"), headers=headers)
