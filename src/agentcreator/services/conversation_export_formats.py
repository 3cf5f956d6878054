"""The formats of a conversation export (services/conversation_export.py reads it): the JSON document,
a Markdown transcript, and a ZIP streamed with stream-zip (``conversation.md``, the attached files
under ``files/``, then ``conversation.json`` with the size and sha256 of each file as written).

The ZIP is made while the response is sent: each file is read from the storage in chunks, compressed
in a worker thread, and never held whole in memory. No database session is used here."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from stream_zip import ZIP_AUTO, AsyncMemberFile, async_stream_zip

from agentcreator.files.storage import FileStorage
from agentcreator.services.conversation_export import ConversationExport, ExportedFile, ExportedMessage, iso

ROLE_NAMES = {"user": "You", "system": "System", "tool": "Tool"}
FILE_MODE = stat.S_IFREG | 0o644
# Attachments are mostly compressed already (images, PDF, Office files): a fast level is enough.
FILE_LEVEL = 1
TEXT_LEVEL = 6
_MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]()<>#|!"})


def json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def markdown(export: ConversationExport, *, in_archive: bool = False) -> str:
    """A readable transcript. Attachments are listed by name (with ``in_archive``: linked to their
    copy under ``files/``); a deleted file says so."""
    header = export.conversation
    assistant = header.get("assistant")
    lines = [f"# {_escape(export.title)}", ""]
    if assistant is not None:
        lines.append(f"- Assistant: {_escape(assistant['name'])}")
    if header.get("model"):
        lines.append(f"- Model: `{header['model']}`")
    lines += [f"- Started: {_when(header.get('created_at'))}", f"- Exported: {_when(iso(export.exported_at))}",
              f"- Messages: {len(export.messages)}", ""]
    assistant_name = assistant["name"] if assistant is not None else "Assistant"
    for message in export.messages:
        lines += ["---", "", *_message(export, message, assistant_name, in_archive=in_archive)]
    return "\n".join(lines).rstrip() + "\n"


async def zip_stream(export: ConversationExport, storage: FileStorage) -> AsyncIterator[bytes]:
    """The ZIP export, chunk by chunk. Files whose bytes are gone from the storage are shown as
    deleted (the sweep will remove their rows)."""
    missing = {f.id for f in export.stored_files() if f.storage_key and not await storage.exists(f.storage_key)}
    if missing:
        export = export.without(missing)
    written: dict[str, dict[str, Any]] = {}

    async def members() -> AsyncIterator[AsyncMemberFile]:
        transcript = markdown(export, in_archive=True).encode("utf-8")
        yield "conversation.md", export.exported_at, FILE_MODE, ZIP_AUTO(len(transcript), TEXT_LEVEL), _once(transcript)
        for file in export.stored_files():
            yield (str(file.path), file.created_at or export.exported_at, FILE_MODE, ZIP_AUTO(file.size or 0, FILE_LEVEL),
                   _measured(storage, file, written))
        document = json_bytes(export.document(archive=written))
        yield "conversation.json", export.exported_at, FILE_MODE, ZIP_AUTO(len(document), TEXT_LEVEL), _once(document)

    async for chunk in async_stream_zip(members()):
        yield chunk


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _measured(storage: FileStorage, file: ExportedFile, written: dict[str, dict[str, Any]]) -> AsyncIterator[bytes]:
    """The file's stored bytes; once read, its path, size and sha256 in the archive go to ``written``."""
    assert file.storage_key is not None and file.path is not None
    digest = hashlib.sha256()
    size = 0
    async for chunk in storage.iter_chunks(file.storage_key):
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    written[file.id] = {"path": file.path, "size": size, "sha256": digest.hexdigest()}


def _message(export: ConversationExport, message: ExportedMessage, assistant_name: str, *,
             in_archive: bool) -> list[str]:
    who = ROLE_NAMES.get(message.role, assistant_name if message.role == "assistant" else message.role)
    meta = [_when(iso(message.created_at))]
    if message.role == "assistant" and message.model:
        meta.append(f"`{message.model}`")
    if message.status not in ("complete", "streaming"):
        meta.append(message.status)
    lines = [f"## {_escape(who)}", "", f"*{' · '.join(meta)}*", ""]
    calls = [p for p in message.parts if p.get("type") == "tool_call"]
    for call in calls:
        lines.append(f"> Tool call: `{call.get('name', '')}` ({call.get('status', 'complete')})")
    if calls:
        lines.append("")
    if message.text.strip():
        lines += [message.text.rstrip(), ""]
    if message.error and message.error.get("message"):
        lines += [f"> Error: {_escape(str(message.error['message']))}", ""]
    if message.attachments:
        lines += ["**Attachments**", ""]
        lines += [f"- {_attachment(export.files[i], in_archive=in_archive)}" for i in message.attachments]
        lines.append("")
    if message.citations:
        lines += ["**Sources**", ""]
        for number, citation in enumerate(message.citations, 1):
            title = _escape(str(citation.get("title") or citation.get("url") or "source"))
            url = citation.get("url")
            lines.append(f"{number}. [{title}](<{url}>)" if isinstance(url, str) and url.startswith(("http://", "https://"))
                         else f"{number}. {title}")
        lines.append("")
    return lines


def _attachment(file: ExportedFile, *, in_archive: bool) -> str:
    name = _escape(file.name)
    if file.deleted:
        return f"{name} — *file deleted*"
    details = [d for d in (file.mime, _size(file.size),
                           f"{file.page_count} pages" if file.page_count and file.page_count > 1 else "") if d]
    label = f"[{name}](<{quote(str(file.path))}>)" if in_archive and file.path else name
    return f"{label} ({', '.join(details)})" if details else label


def _escape(text: str) -> str:
    """Text shown as itself in Markdown (a title or a file name, not a message)."""
    return " ".join(text.split()).translate(_MARKDOWN_SPECIAL)


def _when(value: str | None) -> str:
    return value.replace("T", " ")[:16] + " UTC" if value else "unknown"


def _size(size: int | None) -> str:
    if size is None:
        return ""
    amount = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{size} bytes"
