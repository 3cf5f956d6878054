"""What a file is, from its bytes: magic numbers (puremagic) for the binary formats, a text check
(UTF-8, else charset-normalizer) for the text ones, and the name's extension only to choose among text
formats and to catch contradictions. The client's Content-Type is never read.

Allowed: png, jpeg, webp, gif; pdf, docx, pptx, xlsx; csv, txt, md, html, json and source code. A
file whose content contradicts its extension, or whose content or extension is not on the list, is
refused with 415.
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import charset_normalizer
import puremagic

from agentcreator.core.errors import UnsupportedMediaType, ValidationFailed

HEAD_BYTES = 64 * 1024
Kind = Literal["image", "document"]

# format -> (mime, kind, label for messages)
FORMATS: dict[str, tuple[str, Kind, str]] = {
    "png": ("image/png", "image", "a PNG image"),
    "jpeg": ("image/jpeg", "image", "a JPEG image"),
    "webp": ("image/webp", "image", "a WebP image"),
    "gif": ("image/gif", "image", "a GIF image"),
    "pdf": ("application/pdf", "document", "a PDF document"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document",
             "a Word document"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "document",
             "a PowerPoint presentation"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document",
             "an Excel workbook"),
    "csv": ("text/csv", "document", "CSV text"),
    "txt": ("text/plain", "document", "plain text"),
    "md": ("text/markdown", "document", "Markdown text"),
    "html": ("text/html", "document", "HTML"),
    "json": ("application/json", "document", "JSON"),
    "code": ("text/plain", "document", "source code"),
}
BINARY_FORMATS = frozenset({"png", "jpeg", "webp", "gif", "pdf", "docx", "pptx", "xlsx"})

_EXTENSIONS: dict[str, str] = {
    "png": "png", "jpg": "jpeg", "jpeg": "jpeg", "jpe": "jpeg", "jfif": "jpeg", "webp": "webp", "gif": "gif",
    "pdf": "pdf", "docx": "docx", "pptx": "pptx", "xlsx": "xlsx",
    "csv": "csv", "txt": "txt", "text": "txt", "log": "txt", "md": "md", "markdown": "md",
    "html": "html", "htm": "html", "json": "json",
}
CODE_EXTENSIONS = frozenset(
    "py pyi ipynb js mjs cjs ts tsx jsx vue svelte java kt kts scala groovy c h cc cpp cxx hpp hh cs go rs rb "
    "php swift m mm dart lua pl pm r jl ex exs erl hs ml fs clj sh bash zsh fish ps1 bat sql graphql proto "
    "css scss sass less yaml yml toml ini cfg conf env xml tex rst adoc dockerfile makefile gradle tf "
    "diff patch".split())
# What puremagic reports for the binary formats we accept.
_MAGIC_MIMES: dict[str, str] = {
    "image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp", "image/gif": "gif", "application/pdf": "pdf",
    "application/zip": "zip", "application/x-zip-compressed": "zip",
    FORMATS["docx"][0]: "zip", FORMATS["pptx"][0]: "zip", FORMATS["xlsx"][0]: "zip",
}
_OOXML_MAIN_PARTS = {"word/document.xml": "docx", "ppt/presentation.xml": "pptx", "xl/workbook.xml": "xlsx"}
_TEXT_CONTROLS = frozenset(range(32)) - {9, 10, 12, 13}
_CONTROL_BYTES = bytes(sorted(_TEXT_CONTROLS))
_DROP_CONTROLS = dict.fromkeys(_TEXT_CONTROLS)


@dataclass(frozen=True)
class FileType:
    format: str
    mime: str
    kind: Kind
    encoding: str | None = None  # text formats: how to decode the bytes

    @property
    def is_text(self) -> bool:
        return self.format not in BINARY_FORMATS


def accepted_extensions() -> list[str]:
    return sorted(set(_EXTENSIONS) | CODE_EXTENSIONS)


def format_for_extension(extension: str) -> str | None:
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    return "code" if extension in CODE_EXTENSIONS else None


def _magic_format(head: bytes) -> tuple[str | None, str | None]:
    """(our binary format or "zip" or None, the best mime puremagic named, for messages)."""
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None, None
    for match in matches:
        found = _MAGIC_MIMES.get(match.mime_type)
        if found:
            return found, match.mime_type
    named = next((m.mime_type for m in matches if m.mime_type), None)
    return None, named


def _text_encoding(head: bytes, complete: bool) -> str | None:
    """The encoding that reads ``head`` as text, or None when it is binary."""
    if b"\x00" in head:
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        encoding: str | None = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        length, controls = len(head), len(head) - len(head.translate(None, _CONTROL_BYTES))
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(head).best()
        if best is None:
            return None
        text, encoding = str(best), best.encoding
        length, controls = len(text), len(text) - len(text.translate(_DROP_CONTROLS))
    return encoding if controls <= max(2, length // 1000) else None


def _ooxml_format(path: Path, max_inflated: int) -> str | None:
    """docx/pptx/xlsx by the archive's main part, after checking how far it would inflate."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValidationFailed("The file looks like an Office document but its archive is damaged.",
                               code="damaged_file") from exc
    if sum(info.file_size for info in infos) > max_inflated or len(infos) > 10_000:
        raise ValidationFailed("The document's archive would inflate to more than the server accepts.",
                               code="archive_too_large")
    names = {info.filename for info in infos}
    return next((fmt for part, fmt in _OOXML_MAIN_PARTS.items() if part in names), None)


def _not_allowed(what: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"{what} is not accepted. Accepted: images (PNG, JPEG, WebP, GIF), PDF, Word, PowerPoint and Excel "
        "documents, and text (CSV, TXT, Markdown, HTML, JSON, source code).", code="file_type_not_allowed")


def sniff(path: Path, extension: str, *, max_inflated_bytes: int) -> FileType:
    """The type of the file at ``path`` (``extension``: lower case, no dot, "" when none)."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        complete = not handle.read(1)
    if not head:
        raise UnsupportedMediaType("The file is empty.", code="empty_file")
    claimed = format_for_extension(extension) if extension else None
    if extension and claimed is None:
        raise _not_allowed(f"A '.{extension}' file")
    found, magic_mime = _magic_format(head)
    if found == "zip":
        found = _ooxml_format(path, max_inflated_bytes)
        if found is None:
            raise _not_allowed("A ZIP archive")
    if found is None:
        encoding = _text_encoding(head, complete)
        if encoding is None:
            raise _not_allowed(f"This content ({magic_mime})" if magic_mime else "This binary content")
        if claimed is not None and claimed in BINARY_FORMATS:
            raise _mismatch("text", claimed, extension)
        fmt = claimed or "txt"
        mime, kind, _ = FORMATS[fmt]
        return FileType(fmt, mime, kind, encoding)
    if claimed is not None and claimed != found:
        raise _mismatch(FORMATS[found][2], claimed, extension)
    mime, kind, _ = FORMATS[found]
    return FileType(found, mime, kind)


def _mismatch(content: str, claimed: str, extension: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"The file's content is {content}, but its name ends in '.{extension}' ({FORMATS[claimed][2]}). "
        "Rename it or upload the right file.", code="file_type_mismatch")
