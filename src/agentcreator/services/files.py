"""File use cases for one owner: upload (streamed, checked, parsed), list with usage, read, delete;
attachments for chat messages; the delete cascades; the sweep.

No database session is open while a body streams in, while a file is parsed or while bytes move
in the storage: each step opens its own short one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.core.config import FileSettings
from agentcreator.core.errors import AppError, NotFound, PayloadTooLarge, ValidationFailed
from agentcreator.db.models import File
from agentcreator.db.session import session_scope, transaction
from agentcreator.db.types import utcnow
from agentcreator.files.admission import UploadSlots
from agentcreator.files.names import safe_filename
from agentcreator.files.prepare import PreparedFile, prepare_upload, sniff_upload
from agentcreator.files.receive import receive_upload
from agentcreator.files.storage import FileStorage, UploadSpool, new_key, run_blocking
from agentcreator.repositories import files as file_repo

log = logging.getLogger(__name__)

Purpose = Literal["vision", "assistants"]
PURPOSES: frozenset[str] = frozenset({"vision", "assistants"})
# Multipart headers and boundaries around the file: a Content-Length above limit + this is refused unread.
MULTIPART_OVERHEAD = 64 * 1024
_SAME_BYTES_FIELDS = ("mime", "format", "kind", "size", "storage_key", "model_key", "thumbnail_key", "text_key",
                      "width", "height", "model_width", "model_height", "page_count", "text_chars",
                      "text_truncated", "meta")


@dataclass(frozen=True)
class FileListing:
    files: list[File]
    count: int
    used_bytes: int
    uses: dict[str, list[dict[str, str]]]


@dataclass(frozen=True)
class SweepReport:
    stored_removed: int
    rows_removed: int
    spools_removed: int


def file_too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The file is larger than {limit:,} bytes, the most one upload may be.",
                           code="file_too_large", details={"limit_bytes": limit})


def quota_exceeded(used: int, quota: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Your files would use more than your {quota:,} bytes of storage "
                           f"({used:,} bytes used). Delete some files first.", code="quota_exceeded",
                           details={"used_bytes": used, "quota_bytes": quota})


def attachment_part(file: File) -> dict[str, Any]:
    """The content part a message stores for an attached file."""
    return {"type": "file", "file_id": file.id, "name": file.name, "mime": file.mime, "kind": file.kind,
            "size": file.size}


class FileService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], storage: FileStorage,
                 settings: FileSettings) -> None:
        self.sessions = sessions
        self.storage = storage
        self.settings = settings
        self.upload_slots = UploadSlots(settings.max_concurrent_uploads)

    # --- upload -----------------------------------------------------------------------------------

    async def upload(self, owner_id: str, body: AsyncIterator[bytes], content_type: str | None,
                     content_length: int | None) -> File:
        settings = self.settings
        if content_length is not None and content_length > settings.max_file_bytes + MULTIPART_OVERHEAD:
            raise file_too_large(settings.max_file_bytes)
        limit, too_large = await self.size_limit(owner_id)
        async with self.upload_slots.slot() as slot:  # the others wait unread (files/admission.py)
            received = await receive_upload(slot.read(body), content_type, self.storage, limit=limit,
                                            too_large=too_large)
            spool = received.spool
            try:
                return await self._store(owner_id, spool, safe_filename(received.filename),
                                         received.fields.get("purpose"))
            finally:
                spool.discard()  # adopted spools are gone already; anything else must not stay

    async def size_limit(self, owner_id: str) -> tuple[int, Callable[[], AppError]]:
        """The most bytes the owner's next file may have (the per-file limit or what is left of the
        quota), and the error to raise past it."""
        settings = self.settings
        async with session_scope(self.sessions) as session:
            used = await file_repo.used_bytes(session, owner_id)
        limit = min(settings.max_file_bytes, max(settings.user_quota_bytes - used, 0))

        def too_large() -> AppError:
            if limit == settings.max_file_bytes:
                return file_too_large(limit)
            return quota_exceeded(used, settings.user_quota_bytes)

        return limit, too_large

    async def store_received(self, owner_id: str, spool: UploadSpool, name: str, purpose: str | None) -> File:
        """Keep bytes the server received another way than an upload (an image URL of a chat message),
        from a closed spool: the same sniffing, processing, dedupe and quota as an upload. The caller
        discards the spool afterwards."""
        async with self.upload_slots.slot():
            return await self._store(owner_id, spool, safe_filename(name), purpose)

    async def _store(self, owner_id: str, spool: UploadSpool, name: str, purpose_field: str | None) -> File:
        file_type = await run_blocking(sniff_upload, spool.path, name, self.settings)
        purpose = _purpose(purpose_field, file_type.kind)
        async with session_scope(self.sessions) as session:
            same = await file_repo.find_same_bytes(session, owner_id, spool.sha256)
        if same is not None and same.format == file_type.format:
            copy = File(owner_id=owner_id, name=name, purpose=purpose, sha256=spool.sha256,
                        **{field: getattr(same, field) for field in _SAME_BYTES_FIELDS})
            return await self._insert(owner_id, copy, new_keys=[])
        prepared = await run_blocking(prepare_upload, spool.path, file_type, self.settings)
        file = File(owner_id=owner_id, name=name, purpose=purpose, sha256=spool.sha256, mime=file_type.mime,
                    format=file_type.format, kind=file_type.kind, size=spool.size, meta={})
        written = await self._write_blobs(file, spool, prepared)
        return await self._insert(owner_id, file, new_keys=written)

    async def _write_blobs(self, file: File, spool: UploadSpool, prepared: PreparedFile) -> list[str]:
        written: list[str] = []
        try:
            file.storage_key = new_key()
            if prepared.image is not None:
                image = prepared.image
                await self.storage.put_bytes(file.storage_key, image.stored.data)
                written.append(file.storage_key)
                file.size = len(image.stored.data)
                file.width, file.height = image.stored.width, image.stored.height
                file.model_key, file.thumbnail_key = new_key(".model"), new_key(".thumb")
                file.model_width, file.model_height = image.for_model.width, image.for_model.height
                await self.storage.put_bytes(file.model_key, image.for_model.data)
                written.append(file.model_key)
                await self.storage.put_bytes(file.thumbnail_key, image.thumbnail.data)
                written.append(file.thumbnail_key)
                file.meta = {"model_mime": image.for_model.mime, "thumbnail_mime": image.thumbnail.mime,
                             "frames": image.frames}
            else:
                await self.storage.adopt(spool, file.storage_key)
                written.append(file.storage_key)
            if prepared.text is not None:
                text = prepared.text
                file.text_key = new_key(".txt")
                await self.storage.put_bytes(file.text_key, text.text.encode("utf-8"))
                written.append(file.text_key)
                file.page_count, file.text_chars, file.text_truncated = text.pages, len(text.text), text.truncated
                file.meta = {**text.meta, **({"encoding": prepared.file_type.encoding}
                                             if prepared.file_type.encoding else {})}
        except BaseException:
            await self._delete_keys(written)
            raise
        return written

    async def _insert(self, owner_id: str, file: File, *, new_keys: list[str]) -> File:
        """Insert the row; the quota is checked again under the write (another upload may have landed)."""
        try:
            async with transaction(self.sessions) as session:
                used = await file_repo.used_bytes(session, owner_id)
                adds = file.size if new_keys else 0
                if used + adds > self.settings.user_quota_bytes:
                    raise quota_exceeded(used, self.settings.user_quota_bytes)
                now = utcnow()
                file.created_at = file.updated_at = now
                await file_repo.add(session, file)
        except BaseException:
            await self._delete_keys(new_keys)
            raise
        return file

    # --- reading ----------------------------------------------------------------------------------

    async def listing(self, owner_id: str, *, limit: int, offset: int) -> FileListing:
        async with session_scope(self.sessions) as session:
            files, count = await file_repo.list_owned(session, owner_id, limit=limit, offset=offset)
            used = await file_repo.used_bytes(session, owner_id)
            uses = await file_repo.messages_using(session, owner_id, [f.id for f in files])
        return FileListing(files, count, used, uses)

    async def get(self, owner_id: str, file_id: str) -> tuple[File, list[dict[str, str]]]:
        async with session_scope(self.sessions) as session:
            file = await file_repo.get_owned(session, owner_id, file_id)
            if file is None:
                raise NotFound("File")
            uses = await file_repo.messages_using(session, owner_id, [file.id])
        return file, uses[file.id]

    async def stored_key(self, owner_id: str, file_id: str, variant: Literal["content", "thumbnail"]) -> File:
        """The owner's file whose ``variant`` is in the storage (404 otherwise)."""
        async with session_scope(self.sessions) as session:
            file = await file_repo.get_owned(session, owner_id, file_id)
        if file is None:
            raise NotFound("File")
        key = file.storage_key if variant == "content" else file.thumbnail_key
        if key is None:
            raise NotFound("Thumbnail")
        if not await self.storage.exists(key):
            raise NotFound("File content")
        return file

    # --- deleting ---------------------------------------------------------------------------------

    async def delete(self, owner_id: str, file_id: str) -> None:
        async with transaction(self.sessions) as session:
            file = await file_repo.get_owned(session, owner_id, file_id)
            if file is None:
                raise NotFound("File")
            await file_repo.delete_rows(session, [file])
        await self.discard_unused([file])

    async def discard_unused(self, files: Sequence[File]) -> None:
        """Remove the stored bytes of deleted rows that no other row shares (call after the commit)."""
        by_storage_key: dict[str, list[str]] = {}
        for file in files:
            by_storage_key.setdefault(file.storage_key, []).extend(file.keys)
        async with session_scope(self.sessions) as session:
            still_used = await file_repo.keys_still_used(session, by_storage_key)
        await self._delete_keys([k for sk, keys in by_storage_key.items() if sk not in still_used for k in keys])

    async def _delete_keys(self, keys: Sequence[str]) -> None:
        for key in set(keys):
            await self.storage.delete(key)

    # --- chat attachments -------------------------------------------------------------------------

    async def attachment_parts(self, owner_id: str, file_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Message parts for the owner's files, in the order given; any other id is a 404."""
        if len(file_ids) > self.settings.max_attachments_per_message:
            raise ValidationFailed(f"At most {self.settings.max_attachments_per_message} files per message.",
                                   code="too_many_files")
        async with session_scope(self.sessions) as session:
            found = await file_repo.get_many_owned(session, owner_id, file_ids)
        missing = [i for i in file_ids if i not in found]
        if missing:
            raise NotFound("File", details={"file_ids": missing})
        seen: set[str] = set()
        return [attachment_part(found[i]) for i in file_ids if not (i in seen or seen.add(i))]

    async def store_local(self, owner_id: str, path: Path, name: str, conversation_id: str) -> File:
        """Keep a file the server made (a code interpreter output) as the owner's, on the conversation:
        sniffed, checked against the allow-list, the size limit and the quota like an upload."""
        settings = self.settings
        async with session_scope(self.sessions) as session:
            used = await file_repo.used_bytes(session, owner_id)
        size = (await run_blocking(path.stat)).st_size
        if size > settings.max_file_bytes:
            raise file_too_large(settings.max_file_bytes)
        if used + size > settings.user_quota_bytes:
            raise quota_exceeded(used, settings.user_quota_bytes)
        spool = self.storage.spool()
        try:
            with path.open("rb") as source:  # a local copy, in 1 MiB blocks
                while block := await run_blocking(source.read, 1 << 20):
                    await spool.write(block)
            await spool.close()
            file = await self._store(owner_id, spool, safe_filename(name), None)
        finally:
            spool.discard()
        await self.attach(owner_id, [file.id], conversation_id)
        return file

    async def attach(self, owner_id: str, file_ids: Sequence[str], conversation_id: str) -> None:
        """After the message was saved: the files belong to its conversation (deleted with it)."""
        if file_ids:
            async with transaction(self.sessions) as session:
                await file_repo.attach_to_conversation(session, owner_id, file_ids, conversation_id)

    # --- cascades (collect in the caller's session before the delete; discard after the commit) -------

    async def sweep(self) -> SweepReport:
        """Remove stored bytes no row points to and rows whose stored file is gone. Files younger than
        ``sweep_grace_seconds`` are left alone (an upload stores its bytes just before its row)."""
        grace = self.settings.sweep_grace_seconds
        stored = await self.storage.list_keys(older_than_seconds=grace)
        async with session_scope(self.sessions) as session:
            referenced = await file_repo.all_storage_keys(session)
        orphans = [k for k in stored if k not in referenced]
        await self._delete_keys(orphans)
        lost: list[File] = []
        after = ""
        while True:
            async with session_scope(self.sessions) as session:
                page = await file_repo.rows_page(session, after, 500)
            if not page:
                break
            after = page[-1].id
            for file in page:
                if not await self.storage.exists(file.storage_key):
                    lost.append(file)
        if lost:
            async with transaction(self.sessions) as session:
                await file_repo.delete_rows(session, lost)
            await self.discard_unused(lost)
        spools = await self.storage.sweep_spools(grace)
        if orphans or lost or spools:
            log.warning("file sweep: removed %d stored file(s) without a row, %d row(s) without a file, "
                        "%d abandoned upload(s)", len(orphans), len(lost), spools)
        return SweepReport(len(orphans), len(lost), spools)


async def sweep_at_startup(service: FileService) -> SweepReport | None:
    """For the app's start-up (``AppState.start``): the sweep, when ``FILES__SWEEP_ON_STARTUP`` is on."""
    return await service.sweep() if service.settings.sweep_on_startup else None


def _purpose(given: str | None, kind: str) -> Purpose:
    if not given:
        return "vision" if kind == "image" else "assistants"
    if given not in PURPOSES:
        raise ValidationFailed("purpose must be 'vision' or 'assistants'.", code="invalid_purpose")
    if given == "vision" and kind != "image":
        raise ValidationFailed("Only images can have the purpose 'vision'.", code="invalid_purpose")
    return "vision" if given == "vision" else "assistants"


async def files_of_conversation(session: AsyncSession, owner_id: str, conversation_id: str) -> list[File]:
    """Cascade, step 1 (in the caller's session, before it deletes the conversation): the files that go
    with it. The rows go by the foreign key; step 2 is ``FileService.discard_unused(files)`` after the
    commit."""
    return await file_repo.of_conversation(session, owner_id, conversation_id)


async def files_of_assistant(session: AsyncSession, owner_id: str, assistant_id: str) -> list[File]:
    """Like :func:`files_of_conversation`, for an assistant."""
    return await file_repo.of_assistant(session, owner_id, assistant_id)


async def files_of_user(session: AsyncSession, user_id: str) -> list[File]:
    """Like :func:`files_of_conversation`, for a user being deleted."""
    return await file_repo.of_owner(session, user_id)
