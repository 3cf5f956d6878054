"""Text of a document, extracted once at upload with maintained parsers: pypdf (PDF), python-docx,
python-pptx, openpyxl (read-only), BeautifulSoup (HTML), json and csv from the standard library; text
files are decoded. Synchronous: run it in a worker thread. A parser's failure is a 422 for the
upload (the file claims a format it does not hold)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from agentcreator.core.errors import ValidationFailed
from agentcreator.files.sniffing import FileType

MAX_SHEET_ROWS = 100_000


@dataclass
class ExtractedText:
    text: str
    pages: int | None = None  # PDF pages, slides, sheets
    truncated: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


class _Collector:
    """Accumulates text up to a character limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def add(self, text: str) -> bool:
        """False once the limit is reached (stop reading)."""
        if self.truncated:
            return False
        room = self.limit - self.size
        if len(text) > room:
            text, self.truncated = text[:room], True
        self.parts.append(text)
        self.size += len(text)
        return not self.truncated

    def text(self) -> str:
        return "".join(self.parts).strip()


def _read_text(path: Path, encoding: str, limit: int) -> tuple[str, bool]:
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        text = handle.read(limit)
        return text, bool(handle.read(1))


def _pdf(path: Path, out: _Collector) -> ExtractedText:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            return ExtractedText("", len(reader.pages), meta={"encrypted": True})
        pages = len(reader.pages)
        for number, page in enumerate(reader.pages, 1):
            if not out.add(f"\n\n[Page {number}]\n{page.extract_text() or ''}"):
                break
    except (PyPdfError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise _unreadable("PDF") from exc
    return ExtractedText(out.text(), pages, out.truncated)


def _docx(path: Path, out: _Collector) -> ExtractedText:
    import docx

    document = docx.Document(str(path))
    for paragraph in document.paragraphs:
        if not out.add(paragraph.text + "\n"):
            break
    for table in document.tables:
        for row in table.rows:
            if not out.add("\t".join(cell.text for cell in row.cells) + "\n"):
                break
    return ExtractedText(out.text(), None, out.truncated)


def _shape_texts(shapes: Any) -> Iterator[str]:
    for shape in shapes:
        if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame.text
        if getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                yield "\t".join(cell.text for cell in row.cells)
        if shape.shape_type == 6:  # a group
            yield from _shape_texts(shape.shapes)


def _pptx(path: Path, out: _Collector) -> ExtractedText:
    import pptx

    presentation = pptx.Presentation(str(path))
    slides = len(presentation.slides)
    for number, slide in enumerate(presentation.slides, 1):
        texts = [t for t in _shape_texts(slide.shapes) if t.strip()]
        if not out.add(f"\n\n[Slide {number}]\n" + "\n".join(texts)):
            break
    return ExtractedText(out.text(), slides, out.truncated)


def _xlsx(path: Path, out: _Collector) -> ExtractedText:
    import openpyxl

    with path.open("rb") as handle:  # a handle: openpyxl refuses a path without an .xlsx suffix
        return _read_workbook(openpyxl.load_workbook(handle, read_only=True, data_only=True), out)


def _read_workbook(workbook: Any, out: _Collector) -> ExtractedText:
    try:
        sheets = workbook.sheetnames
        for name in sheets:
            if not out.add(f"\n\n[Sheet {name}]\n"):
                break
            for row in islice(workbook[name].iter_rows(values_only=True), MAX_SHEET_ROWS):
                if not out.add("\t".join("" if v is None else str(v) for v in row).rstrip("\t") + "\n"):
                    break
    finally:
        workbook.close()
    return ExtractedText(out.text(), len(sheets), out.truncated, {"sheets": sheets})


def _html(text: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "template", "noscript"]):
        tag.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def extract_text(path: Path, file_type: FileType, max_chars: int) -> ExtractedText:
    out = _Collector(max_chars)
    try:
        if file_type.format == "pdf":
            return _pdf(path, out)
        if file_type.format == "docx":
            return _docx(path, out)
        if file_type.format == "pptx":
            return _pptx(path, out)
        if file_type.format == "xlsx":
            return _xlsx(path, out)
    except ValidationFailed:
        raise
    except Exception as exc:  # parsers raise anything on hostile files: translated here
        raise _unreadable(file_type.format.upper()) from exc
    text, cut = _read_text(path, file_type.encoding or "utf-8", max_chars)
    meta: dict[str, Any] = {"encoding": file_type.encoding}
    if file_type.format == "json" and not cut:
        try:
            json.loads(text)
        except ValueError as exc:
            raise ValidationFailed(f"The file is not valid JSON: {exc}", code="damaged_file") from exc
    if file_type.format == "csv":
        try:
            rows = sum(1 for _ in csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            raise ValidationFailed(f"The file is not valid CSV: {exc}", code="damaged_file") from exc
        meta["rows"] = rows
    if file_type.format == "html":
        text = _html(text)
    return ExtractedText(text, None, cut, meta)


def _unreadable(what: str) -> ValidationFailed:
    return ValidationFailed(f"The {what} file could not be read: it is damaged or not what its name says.",
                            code="damaged_file")
