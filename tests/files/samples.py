"""Real files of each accepted type, generated here (Pillow, python-docx, python-pptx, openpyxl, fpdf2)."""

from __future__ import annotations

import io
import zipfile

import docx
import openpyxl
import pptx
from fpdf import FPDF
from PIL import Image


def image(fmt: str = "PNG", size: tuple[int, int] = (64, 48), color: str = "red", **options: object) -> bytes:
    buffer = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" else "RGB"
    Image.new(mode, size, color).save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_with_exif(size: tuple[int, int] = (80, 40), orientation: int = 6) -> bytes:
    """A JPEG carrying GPS-like EXIF and an orientation tag (6: rotate 90° clockwise to display)."""
    img = Image.new("RGB", size, "blue")
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.0)}  # GPSInfo
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def animated_gif(frames: int = 3, size: tuple[int, int] = (20, 20)) -> bytes:
    colors = ["red", "green", "blue", "yellow"]
    images = [Image.new("RGB", size, colors[i % 4]).convert("P") for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def pdf(pages: list[str]) -> bytes:
    document = FPDF()
    document.set_font("helvetica", size=12)
    for text in pages:
        document.add_page()
        document.multi_cell(0, 10, text)
    return bytes(document.output())


def word(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def slides(texts: list[str]) -> bytes:
    presentation = pptx.Presentation()
    for text in texts:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = text
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return buffer.getvalue()


def zip_bomb_docx(inflated_bytes: int) -> bytes:
    """A .docx-shaped archive whose one member inflates to ``inflated_bytes`` (zeros compress ~1000:1)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(inflated_bytes // len(chunk)):
                member.write(chunk)
    return buffer.getvalue()


def bomb_png(side: int) -> bytes:
    """A tiny PNG that declares ``side`` x ``side`` pixels (a 1-bit image of zeros compresses ~1000:1)."""
    buffer = io.BytesIO()
    Image.new("1", (side, side), 0).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
