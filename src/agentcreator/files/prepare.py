"""What an upload becomes before it is stored: its sniffed type, and for images the clean copies, for
documents the extracted text. Synchronous (Pillow and the parsers): call it in a worker thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentcreator.core.config import FileSettings
from agentcreator.files.extract import ExtractedText, extract_text
from agentcreator.files.images import ProcessedImage, process_image
from agentcreator.files.names import extension_of
from agentcreator.files.sniffing import FileType, sniff


@dataclass(frozen=True)
class PreparedFile:
    file_type: FileType
    image: ProcessedImage | None = None
    text: ExtractedText | None = None


def sniff_upload(path: Path, name: str, settings: FileSettings) -> FileType:
    return sniff(path, extension_of(name), max_inflated_bytes=settings.max_archive_inflated_bytes)


def prepare_upload(path: Path, file_type: FileType, settings: FileSettings) -> PreparedFile:
    if file_type.kind == "image":
        return PreparedFile(file_type, image=process_image(
            path, file_type.format, max_pixels=settings.max_image_pixels,
            model_long_side=settings.model_image_long_side, thumbnail_long_side=settings.thumbnail_long_side))
    return PreparedFile(file_type, text=extract_text(path, file_type, settings.max_text_chars))
