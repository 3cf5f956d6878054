"""A user's file name is metadata only: cleaned for display and sent back in a Content-Disposition
header (RFC 6266 with the RFC 5987/8187 ``filename*`` for non-ASCII names)."""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath
from urllib.parse import quote

MAX_NAME_CHARS = 200
DEFAULT_NAME = "file"
# Bidirectional controls (embeddings, overrides, isolates, marks): "invoice\u202efdp.exe" would display
# as "invoiceexe.pdf".
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def safe_filename(raw: str | None) -> str:
    """The last path part of ``raw`` without control, format (bidi, zero-width) or separator
    characters, NFC-normalised, at most ``MAX_NAME_CHARS`` characters with its extension kept."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch not in _BIDI and unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    if not name or name in {".", ".."}:
        return DEFAULT_NAME
    if len(name) > MAX_NAME_CHARS:
        suffix = PurePosixPath(name).suffix
        suffix = suffix if 1 < len(suffix) <= 16 else ""
        name = name[: MAX_NAME_CHARS - len(suffix)].rstrip(" .") + suffix
    return name


def extension_of(name: str) -> str:
    """The lower-case extension without the dot ("" when none)."""
    suffix = PurePosixPath(name).suffix
    return suffix[1:].lower() if len(suffix) > 1 else ""


def content_disposition(name: str, *, inline: bool) -> str:
    """``attachment; filename="ascii fallback"; filename*=UTF-8''percent-encoded``."""
    disposition = "inline" if inline else "attachment"
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = "".join(ch if ch.isprintable() and ch not in '"\\;' else "_" for ch in fallback).strip() \
        or DEFAULT_NAME
    header = f'{disposition}; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header
