"""Files attached to the messages of a turn's history, as the model reads them: images as image parts
(the stored, scaled copy as a data URL), documents as their extracted text within a token budget, a
deleted file as a note. The descriptors are loaded in the turn's reading session; the files are read
after it closed (nothing slow runs while a DB session is open)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.files.for_model import AttachmentNote, StoredFile, model_parts, uses_openai_tiles
from agentcreator.llm.base import ModelProvider
from agentcreator.llm.types import ChatMessage, ImagePart, ModelInfo, TextPart
from agentcreator.services.attachments import load_attached_files
from agentcreator.services.files import FileService


@dataclass
class ResolvedAttachments:
    """Each user message with files, as the model gets it: its message and token count."""

    messages: dict[str, tuple[ChatMessage, int]] = field(default_factory=dict)
    notes: dict[str, list[AttachmentNote]] = field(default_factory=dict)

    def report(self) -> list[dict[str, Any]]:
        return [{"message_id": message_id, "file_id": n.file_id, "name": n.name, "kind": n.kind, "tokens": n.tokens,
                 "cut": n.cut, "deleted": n.deleted} for message_id, notes in self.notes.items() for n in notes]


def with_files(branch: list[Any]) -> list[Any]:
    return [m for m in branch if m.role == "user" and any(p.get("type") == "file" for p in m.content or [])]


async def load(session: AsyncSession, owner_id: str, branch: list[Any]) -> dict[str, StoredFile] | None:
    """The descriptors of the files the branch's user messages point to; None when there are none."""
    messages = with_files(branch)
    if not messages:
        return None
    return await load_attached_files(session, owner_id, [m.content for m in messages])


async def resolve(files: FileService, branch: list[Any], stored: dict[str, StoredFile], provider: ModelProvider,
                  info: ModelInfo, document_token_budget: int) -> ResolvedAttachments:
    """Read the attached files (no DB session open). On a model that cannot see images, an image in the
    history becomes a short note instead (a new one was refused before anything was saved)."""
    out = ResolvedAttachments()
    for message in with_files(branch):
        converted = await model_parts(list(message.content), stored, files.storage,
                                      document_token_budget=document_token_budget,
                                      openai_tiles=uses_openai_tiles(info),
                                      count_tokens=lambda text: provider.count_tokens(info.name, [ChatMessage.user(text)], ""))
        parts: list[TextPart | ImagePart] = []
        image_notes = iter([n for n in converted.notes if n.kind == "image" and not n.deleted])
        image_tokens = 0
        for part in converted.parts:
            if isinstance(part, ImagePart):
                note = next(image_notes, None)
                if not info.vision:
                    parts.append(TextPart(text=f"[An image ({note.name if note else 'image'}) was attached here; "
                                               f"this model cannot see images.]"))
                    continue
                image_tokens += note.tokens if note else 0
            parts.append(part)
        chat = ChatMessage(role="user", content=parts)
        text_only = ChatMessage(role="user", content=[p for p in parts if isinstance(p, TextPart)])
        out.messages[message.id] = (chat, provider.count_tokens(info.name, [text_only], "") + image_tokens)
        out.notes[message.id] = converted.notes
    return out
