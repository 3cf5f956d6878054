"""Attachment parts of stored messages turned into what a model reads, outside any database session.

A message stores ``{"type": "file", "file_id", "name", "mime", "kind", "size"}`` parts. For the model:
- an image becomes an :class:`ImagePart` with a base64 ``data:`` URL of the stored, scaled copy;
- a document becomes a :class:`TextPart` with its extracted text, cut to a token budget with a note
  to the model when it is longer;
- a file deleted since becomes a short "file deleted" text, so history still loads.

The caller loads the :class:`StoredFile` descriptors in its short loading session
(``services.files.load_attached_files``) and calls :func:`model_parts` after closing it.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentcreator.core.errors import ValidationFailed
from agentcreator.files.storage import FileStorage
from agentcreator.llm.base import estimate_text_tokens
from agentcreator.llm.types import ImagePart, ModelInfo, TextPart

ModelPart = TextPart | ImagePart


@dataclass(frozen=True)
class StoredFile:
    """What the conversion needs of a file row, detached from the ORM."""

    id: str
    name: str
    kind: str
    model_key: str | None
    model_mime: str | None
    model_width: int | None
    model_height: int | None
    text_key: str | None
    page_count: int | None
    text_truncated: bool


@dataclass
class AttachmentNote:
    """For the context report (and the user): what was sent of one attachment."""

    file_id: str
    name: str
    kind: str
    tokens: int
    cut: bool = False
    deleted: bool = False


@dataclass
class ModelParts:
    parts: list[ModelPart]
    notes: list[AttachmentNote] = field(default_factory=list)


def file_ids_in(contents: Iterable[list[dict[str, Any]]]) -> list[str]:
    """The file ids the parts of these messages point to, each once, in order."""
    seen: dict[str, None] = {}
    for content in contents:
        for part in content or []:
            if isinstance(part, dict) and part.get("type") == "file" and isinstance(part.get("file_id"), str):
                seen.setdefault(part["file_id"], None)
    return list(seen)


def has_image_attachments(parts: Iterable[dict[str, Any]]) -> bool:
    """Image files, or images by URL (a message being sent, before they are fetched)."""
    return any((p.get("type") == "file" and p.get("kind") == "image") or p.get("type") == "image" for p in parts)


def ensure_can_see_images(info: ModelInfo, parts: Iterable[dict[str, Any]]) -> None:
    """422 ``model_cannot_see_images`` when image attachments go to a model without vision."""
    if not info.vision and has_image_attachments(parts):
        raise ValidationFailed(
            f"The model '{info.provider}/{info.name}' cannot see images. Remove the images or pick a model "
            "with vision for this assistant.", code="model_cannot_see_images",
            details={"model": f"{info.provider}/{info.name}"})


_OPENAI_TILE_MODELS = ("gpt-4o", "gpt-4.1", "gpt-4-turbo", "gpt-5", "o1", "o3", "o4")


def uses_openai_tiles(info: ModelInfo) -> bool:
    """Whether :func:`image_tokens` should use OpenAI's tile formula for this model: OpenAI's own models,
    wherever they are served from (an OpenAI-compatible proxy keeps the model name)."""
    return info.provider == "openai" or info.name.startswith(_OPENAI_TILE_MODELS)


def image_tokens(width: int, height: int, *, openai_tiles: bool, detail: str = "auto") -> int:
    """Estimated input tokens of an image.

    OpenAI (GPT-4o/4.1 family): ``detail=low`` is 85; otherwise the image is fit in 2048x2048, its short
    side scaled to 768, and it costs 85 + 170 per 512-px tile. Elsewhere: width x height / 750 (the
    estimate Anthropic publishes; llama.cpp and most servers charge in that range), at least 85."""
    if openai_tiles:
        if detail == "low":
            return 85
        scale = min(1.0, 2048 / max(width, height))
        w, h = width * scale, height * scale
        scale = min(1.0, 768 / min(w, h))
        w, h = w * scale, h * scale
        return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)
    return max(85, math.ceil(width * height / 750))


def _deleted(name: str) -> TextPart:
    return TextPart(text=f"[Attachment '{name}' was deleted and is no longer available.]")


def _cut(text: str, budget: int, count_tokens: Callable[[str], int]) -> tuple[str, int, bool]:
    tokens = count_tokens(text)
    if tokens <= budget:
        return text, tokens, False
    keep = int(len(text) * budget / tokens)
    while keep > 0:
        candidate = text[:keep]
        counted = count_tokens(candidate)
        if counted <= budget:
            return candidate, counted, True
        keep = int(keep * budget / counted * 0.95)
    return "", 0, True


async def model_parts(parts: list[dict[str, Any]], files: Mapping[str, StoredFile], storage: FileStorage, *,
                      document_token_budget: int, openai_tiles: bool = False,
                      count_tokens: Callable[[str], int] = estimate_text_tokens) -> ModelParts:
    """The model's content for one stored message (``files``: the descriptors of its attachments)."""
    out = ModelParts(parts=[])
    for part in parts:
        kind = part.get("type")
        if kind == "text":
            out.parts.append(TextPart(text=part.get("text", "")))
        elif kind == "image":
            out.parts.append(ImagePart(url=part["url"], detail=part.get("detail", "auto")))
        elif kind == "file":
            await _file_part(part, files.get(part.get("file_id", "")), storage, out, document_token_budget,
                             openai_tiles, count_tokens)
    return out


async def _file_part(part: dict[str, Any], file: StoredFile | None, storage: FileStorage, out: ModelParts,
                     budget: int, openai_tiles: bool, count_tokens: Callable[[str], int]) -> None:
    name = str(part.get("name") or "file")
    note = AttachmentNote(str(part.get("file_id")), name, str(part.get("kind")), 0)
    out.notes.append(note)
    key = (file.model_key if file.kind == "image" else file.text_key) if file is not None else None
    try:
        data = await storage.read_bytes(key) if key else None
    except FileNotFoundError:
        data = None
    if file is None or data is None:
        note.deleted = True
        out.parts.append(_deleted(name))
        return
    if file.kind == "image":
        url = f"data:{file.model_mime or 'image/png'};base64,{base64.b64encode(data).decode('ascii')}"
        detail = part.get("detail") if part.get("detail") in ("low", "high") else "auto"  # an image URL's
        out.parts.append(ImagePart(url=url, detail=detail))
        note.tokens = image_tokens(file.model_width or 512, file.model_height or 512, openai_tiles=openai_tiles,
                                   detail=detail)
        return
    text, note.tokens, note.cut = _cut(data.decode("utf-8", "replace"), budget, count_tokens)
    pages = f", {file.page_count} pages" if file.page_count else ""
    body = f"[Attached file: {name}{pages}]\n{text}\n[End of {name}]"
    if note.cut or file.text_truncated:
        body += (f"\n[Note: only the beginning of '{name}' is included (about {note.tokens} tokens); the rest "
                 "was not sent. Say so if the answer may depend on the rest.]")
    out.parts.append(TextPart(text=body))
