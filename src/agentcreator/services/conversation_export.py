"""Export of one owner's conversation: the branch being shown, oldest first, as a versioned JSON document
(``agentcreator.conversation``, version 1), a Markdown transcript, or a ZIP with both and the attached
files (services/conversation_export_formats.py renders those).

:func:`load_export` reads everything in the caller's session and returns plain data: the formats run
after the session closed (a ZIP streams file bytes from the storage, never while a session is open).

Each attachment (a file part of a message, or a file or image a tool produced) is described by its
file's metadata; a file deleted since stays in the export as ``{"deleted": true}`` with the name the
message kept, like the chat shows it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.chat.parts import text_of
from agentcreator.db.models import Conversation, File, Message
from agentcreator.db.types import utcnow
from agentcreator.files.names import DEFAULT_NAME, safe_filename
from agentcreator.repositories import assistants as assistant_repo
from agentcreator.repositories import files as file_repo
from agentcreator.repositories import turns as turn_repo

ExportFormat = Literal["markdown", "json", "zip"]
DOCUMENT_FORMAT = "agentcreator.conversation"
DOCUMENT_VERSION = 1
FILES_DIR = "files"
MAX_TITLE_CHARS = 100
# Characters no file name on a common system may hold (Windows' list; "/" everywhere).
_UNPORTABLE = re.compile(r'[\\/:*?"<>|]+')


@dataclass(frozen=True)
class ExportedFile:
    """An attachment as the export describes it. ``storage_key``: where its bytes are (None when the
    file was deleted); ``path``: its name inside a ZIP export."""

    id: str
    name: str
    mime: str
    kind: str
    size: int | None
    sha256: str | None = None
    page_count: int | None = None
    created_at: datetime | None = None
    storage_key: str | None = None
    path: str | None = None

    @property
    def deleted(self) -> bool:
        return self.storage_key is None

    def metadata(self, *, archive: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON description: with ``archive`` (a ZIP export) its path, size and sha256 there."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "mime": self.mime, "kind": self.kind,
                               "size": self.size}
        if self.deleted:
            return out | {"deleted": True}
        out |= {"sha256": self.sha256, "page_count": self.page_count, "deleted": False}
        return out | ({"archive": archive} if archive is not None else {})


@dataclass(frozen=True)
class ExportedMessage:
    id: str
    role: str
    status: str
    created_at: datetime | None
    model: str | None
    text: str
    parts: list[dict[str, Any]]
    attachments: list[str]  # file ids, in the order of the parts
    citations: list[dict[str, Any]]
    usage: dict[str, Any] | None
    cost_micros: int | None
    error: dict[str, Any] | None


@dataclass(frozen=True)
class ConversationExport:
    """Everything an export holds, read from the database (no ORM object: safe after the session)."""

    conversation: dict[str, Any]
    messages: list[ExportedMessage]
    files: dict[str, ExportedFile]
    exported_at: datetime = field(default_factory=utcnow)

    @property
    def title(self) -> str:
        return str(self.conversation["title"])

    def stored_files(self) -> list[ExportedFile]:
        """The attachments whose bytes exist, each once, in the order they first appear."""
        return [f for f in self.files.values() if not f.deleted]

    def without(self, file_ids: set[str]) -> ConversationExport:
        """The same export with these files shown as deleted (their bytes are gone from the storage)."""
        files = {i: replace(f, storage_key=None) if i in file_ids else f for i, f in self.files.items()}
        return replace(self, files=files)

    def document(self, archive: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """The JSON document; ``archive``: file id → its place in a ZIP export."""
        def attachment(file_id: str) -> dict[str, Any]:
            return self.files[file_id].metadata(archive=archive.get(file_id) if archive is not None else None)

        return {
            "format": DOCUMENT_FORMAT, "version": DOCUMENT_VERSION, "exported_at": iso(self.exported_at),
            "conversation": self.conversation,
            "messages": [{
                "id": m.id, "role": m.role, "status": m.status, "created_at": iso(m.created_at), "model": m.model,
                "text": m.text, "parts": [_marked(p, self.files) for p in m.parts],
                "attachments": [attachment(i) for i in m.attachments],
                "citations": m.citations, "usage": m.usage, "cost_micros": m.cost_micros,
                **({"error": m.error} if m.error else {}),
            } for m in self.messages],
        }


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


async def load_export(session: AsyncSession, conversation: Conversation) -> ConversationExport:
    """The conversation (already checked to be the caller's) with the branch being shown and the
    metadata of the files its messages point to, read in ``session``."""
    owner_id = conversation.owner_id
    assistant = await assistant_repo.get_owned(session, owner_id, conversation.assistant_id) \
        if conversation.assistant_id else None
    branch: list[Message] = turn_repo.branch_to(await turn_repo.all_messages(session, conversation.id),
                                                conversation.active_leaf_id)
    referenced = {file_id: part for m in branch for file_id, part in _file_parts(m.content or [])}
    rows = await file_repo.get_many_owned(session, owner_id, list(referenced))
    files = {file_id: _exported_file(file_id, part, rows.get(file_id)) for file_id, part in referenced.items()}
    header = {
        "id": conversation.id, "title": conversation.title, "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at), "last_activity_at": iso(conversation.last_activity_at),
        "archived": conversation.archived,
        "model": conversation.model or (assistant.model if assistant is not None else None),
        "assistant": {"id": assistant.id, "name": assistant.name, "model": assistant.model}
        if assistant is not None else None,
        "continues_conversation_id": conversation.parent_id,
        "continued_in_conversation_id": conversation.continued_in_id,
    }
    messages = [_exported_message(m) for m in branch]
    return ConversationExport(conversation=header, messages=messages, files=files)


def export_filename(title: str, extension: str) -> str:
    """A download name from a conversation's title: no path separator, control, bidi or quote
    character, at most ``MAX_TITLE_CHARS`` characters, then ``.extension``."""
    cleaned = _UNPORTABLE.sub("-", title)
    base = safe_filename(cleaned)
    if base == DEFAULT_NAME and cleaned.strip() != DEFAULT_NAME:  # nothing was left of the title
        base = ""
    return f"{base[:MAX_TITLE_CHARS].strip(' .-') or 'conversation'}.{extension}"


def archive_path(file_id: str, name: str) -> str:
    """A file's name inside a ZIP export: ``files/<id>-<name>`` (the id keeps equal names apart; the
    name is cleaned again, never used as a path)."""
    return f"{FILES_DIR}/{file_id}-{_UNPORTABLE.sub('-', safe_filename(name))}"


def _file_parts(content: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(file id, part) of a message's attachments: its file parts and images with a file, then those
    its tool calls produced."""
    found: list[tuple[str, dict[str, Any]]] = []
    for part in content:
        if part.get("type") in ("file", "image") and isinstance(part.get("file_id"), str):
            found.append((part["file_id"], part))
        elif part.get("type") == "tool_call":
            found.extend(_file_parts([p for p in part.get("result_parts") or [] if isinstance(p, dict)]))
    return found


def _citations(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "citation":
            found.append({k: v for k, v in part.items() if k != "type"})
        elif part.get("type") == "tool_call":
            found.extend(_citations([p for p in part.get("result_parts") or [] if isinstance(p, dict)]))
    return found


def _exported_file(file_id: str, part: dict[str, Any], row: File | None) -> ExportedFile:
    if row is None or part.get("deleted"):  # deleted since: what the message kept
        return ExportedFile(id=file_id, name=str(part.get("name") or "file"), mime=str(part.get("mime") or ""),
                            kind=str(part.get("kind") or part.get("type") or "other"), size=part.get("size"))
    return ExportedFile(id=row.id, name=row.name, mime=row.mime, kind=row.kind, size=row.size, sha256=row.sha256,
                        page_count=row.page_count, created_at=row.created_at, storage_key=row.storage_key,
                        path=archive_path(row.id, row.name))


def _exported_message(message: Message) -> ExportedMessage:
    content = list(message.content or [])
    attachments = list(dict.fromkeys(file_id for file_id, _ in _file_parts(content)))
    text = message.text or text_of(content)
    return ExportedMessage(id=message.id, role=message.role, status=message.status, created_at=message.created_at,
                           model=message.model, text=text, parts=content, attachments=attachments,
                           citations=_citations(content), usage=message.usage, cost_micros=message.cost_micros,
                           error=message.error)


def _marked(part: dict[str, Any], files: dict[str, ExportedFile]) -> dict[str, Any]:
    """The stored part, a file part marked ``deleted`` when its file is gone (as the chat shows it)."""
    file_id = part.get("file_id")
    if part.get("type") == "file" and isinstance(file_id, str) and file_id in files and files[file_id].deleted:
        return {**part, "deleted": True}
    return part
