"""File names are metadata: cleaned, and sent back in RFC 6266 / 5987 form."""

from __future__ import annotations

import pytest

from agentcreator.files.names import MAX_NAME_CHARS, content_disposition, extension_of, safe_filename


@pytest.mark.parametrize(("raw", "clean"), [
    ("../../x", "x"), ("C:\\Users\\me\\cv.pdf", "cv.pdf"), ("a\x00b.txt", "ab.txt"), ("\x1b[31mred.txt", "[31mred.txt"),
    ("evil\u202egpj.exe", "evilgpj.exe"), ("zero\u200bwidth.txt", "zerowidth.txt"), ("  spaced   out .txt ", "spaced out .txt"),
    ("", "file"), (None, "file"), ("...", "file"), ("caf\u0065\u0301.md", "caf\u00e9.md"),
])
def test_safe_filename(raw: str | None, clean: str) -> None:
    assert safe_filename(raw) == clean


def test_long_names_keep_their_extension() -> None:
    name = safe_filename("n" * 1000 + ".xlsx")
    assert len(name) == MAX_NAME_CHARS and name.endswith(".xlsx") and extension_of(name) == "xlsx"


def test_content_disposition() -> None:
    assert content_disposition("plain.txt", inline=False) == 'attachment; filename="plain.txt"'
    assert content_disposition("a \"quoted\"; name.png", inline=True) == (
        "inline; filename=\"a _quoted__ name.png\"; filename*=UTF-8''a%20%22quoted%22%3B%20name.png")
    assert content_disposition("\u65e5\u672c.pdf", inline=False) == (
        "attachment; filename=\".pdf\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.pdf")
