"""The host side of the work directory, on a real directory: names, copies, links, collection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentcreator.sandbox.errors import SandboxInputError
from agentcreator.sandbox.files import collect, copy_in, mime_of, open_dir, safe_name, snapshot


@pytest.mark.parametrize(("raw", "safe"), [
    ("report.csv", "report.csv"),
    ("../../etc/passwd", "passwd"),
    ("..", "file"),
    ("", "file"),
    ("dir\\sub\\x.xlsx", "x.xlsx"),
    ("\x00\x1b[2Jscreen.txt", "[2Jscreen.txt"),
    ("...hidden", "hidden"),
    ("a" * 300 + ".csv", "a" * 116 + ".csv"),
])
def test_safe_name(raw: str, safe: str) -> None:
    assert safe_name(raw) == safe


def test_images_are_sniffed_by_content() -> None:
    assert mime_of("chart.png", b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert mime_of("photo.bin", b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert mime_of("fake.png", b"<svg onload=alert(1)>") == "application/octet-stream"
    assert mime_of("drawing.svg", b"<svg></svg>") == "application/octet-stream"
    assert mime_of("data.csv", b"a,b") == "text/csv"


def test_copy_in_replaces_a_link_instead_of_writing_through(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    (work / "data.csv").symlink_to(victim)
    source = tmp_path / "upload"
    source.write_text("new data")
    fd = open_dir(work)
    try:
        copy_in(fd, source, "data.csv", os.getuid(), 1 << 20)
        with pytest.raises(SandboxInputError, match="larger than"):
            copy_in(fd, source, "big.csv", os.getuid(), 3)
        (work / "folder").mkdir()
        with pytest.raises(SandboxInputError, match="conflicts with a directory"):
            copy_in(fd, source, "folder", os.getuid(), 1 << 20)
    finally:
        os.close(fd)
    assert victim.read_text() == "untouched"
    assert not (work / "data.csv").is_symlink() and (work / "data.csv").read_text() == "new data"
    assert sorted(p.name for p in work.iterdir()) == ["data.csv", "folder"]  # no temporary file left


def test_collect_copies_new_and_changed_files_only_and_never_follows_links(tmp_path: Path) -> None:
    work, outbox = tmp_path / "work", tmp_path / "outbox"
    (work / "sub").mkdir(parents=True)
    (work / "same.txt").write_text("same")
    (work / "changed.txt").write_text("v1")
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    fd = open_dir(work)
    try:
        before = snapshot(fd)
        (work / "changed.txt").write_text("version 2")
        (work / "sub" / "new.bin").write_bytes(b"\x89PNG\r\n\x1a\nrest")
        (work / "link.txt").symlink_to(secret)
        (work / "linkdir").symlink_to(tmp_path)
        (work / ".cache").mkdir()
        (work / ".cache" / "x").write_text("ignored")
        (work / "extra.txt").write_text("beyond the limit")
        outputs, skipped = collect(fd, before, outbox, limit=2)
    finally:
        os.close(fd)
    assert [(o.name, o.mime, o.size) for o in outputs] == [("changed.txt", "text/plain", 9),
                                                          ("extra.txt", "text/plain", 16)]
    assert skipped == ["sub/new.bin"]
    assert all(o.path.is_relative_to(outbox) and "host secret" not in o.path.read_text() for o in outputs)
