"""Files in and out of a session's work directory (``/mnt/data`` inside the sandbox).

The work directory is written by untrusted code, so the host (root) treats everything in it as
hostile: it never follows a link there, opens with ``O_NOFOLLOW`` relative to directory fds, writes
inputs under a temporary name and renames them into place (a planted symlink is replaced, never
written through), and copies outputs to a host-only outbox before anyone reads them (a file swapped
for a link after the walk is not followed either).
"""

from __future__ import annotations

import mimetypes
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agentcreator.sandbox.errors import SandboxInputError

MAX_NAME_CHARS = 120
IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True)
class InputFile:
    """A file to make available at ``/mnt/data/<name>``: ``path`` is a trusted host path."""

    name: str
    path: Path


@dataclass(frozen=True)
class OutputFile:
    """A file the code created or changed. ``path`` is a host copy outside the sandbox's reach,
    kept until the session ends; ``name`` is its path relative to /mnt/data."""

    name: str
    path: Path
    size: int
    mime: str

    @property
    def is_image(self) -> bool:
        return self.mime in {"image/png", "image/jpeg", "image/gif", "image/webp"}


def safe_name(name: str) -> str:
    """A plain file name from an untrusted one: the last path component, printable characters only,
    no leading dots (so never ``.`` or ``..``), at most MAX_NAME_CHARS characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".").strip()
    if not base:
        return "file"
    if len(base) > MAX_NAME_CHARS:
        stem, dot, ext = base.rpartition(".")
        ext = ext[:16] if dot else ""
        base = (stem if dot else base)[: MAX_NAME_CHARS - len(ext) - 1] + (f".{ext}" if ext else "")
    return base


def open_dir(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def copy_in(work_fd: int, source: Path, name: str, uid: int, max_bytes: int) -> None:
    """Copy ``source`` to ``name`` in the work directory, owned by ``uid``."""
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise SandboxInputError(f"input file {name!r} cannot be read") from exc
    if size > max_bytes:
        raise SandboxInputError(f"input file {name!r} is larger than {max_bytes} bytes")
    temp = f".incoming-{secrets.token_hex(8)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=work_fd)
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb", closefd=False) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.fchown(fd, uid, uid)
    finally:
        os.close(fd)
    try:
        os.rename(temp, name, src_dir_fd=work_fd, dst_dir_fd=work_fd)
    except OSError as exc:
        os.unlink(temp, dir_fd=work_fd)
        raise SandboxInputError(f"input file {name!r} conflicts with a directory in /mnt/data") from exc


def chown_tree(work_fd: int, uid: int) -> None:
    """Give the whole work directory to ``uid`` (a restarted session may have another uid)."""
    os.fchown(work_fd, uid, uid)
    for _dirpath, dirnames, filenames, dir_fd in os.fwalk(".", dir_fd=work_fd):
        for entry in dirnames + filenames:
            try:
                os.chown(entry, uid, uid, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue


Snapshot = dict[str, tuple[int, int, int]]


def _files(work_fd: int) -> Iterator[tuple[str, str, int, os.stat_result]]:
    """(relative path, entry name, parent dir fd, lstat) of the regular files, skipping dot entries."""
    for dirpath, dirnames, filenames, dir_fd in os.fwalk(".", dir_fd=work_fd):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            try:
                info = os.stat(filename, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode):
                yield os.path.normpath(os.path.join(dirpath, filename)), filename, dir_fd, info


def snapshot(work_fd: int) -> Snapshot:
    return {rel: (info.st_ino, info.st_size, info.st_mtime_ns) for rel, _, _, info in _files(work_fd)}


def collect(work_fd: int, before: Snapshot, outbox: Path, limit: int) -> tuple[list[OutputFile], list[str]]:
    """Copy the files created or changed since ``before`` to ``outbox``; returns them and the names
    left out beyond ``limit``."""
    outputs: list[OutputFile] = []
    skipped: list[str] = []
    for rel, filename, dir_fd, info in _files(work_fd):  # dir_fd is only open during the walk
        if before.get(rel) == (info.st_ino, info.st_size, info.st_mtime_ns):
            continue
        if len(outputs) >= limit:
            skipped.append(rel)
            continue
        try:
            fd = os.open(filename, OPEN_FLAGS, dir_fd=dir_fd)
        except OSError:  # replaced by a link or removed since the walk
            continue
        with os.fdopen(fd, "rb") as src:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            outbox.mkdir(parents=True, exist_ok=True, mode=0o700)
            target = outbox / f"{len(outputs) + 1}-{safe_name(filename)}"
            with open(target, "xb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        with target.open("rb") as copied:
            head = copied.read(16)
        outputs.append(OutputFile(name=rel, path=target, size=target.stat().st_size, mime=mime_of(rel, head)))
    return sorted(outputs, key=lambda f: f.name), skipped


def mime_of(name: str, head: bytes) -> str:
    """Images by their bytes (a chart is shown inline only if it really is one); the rest by name."""
    for magic, mime in IMAGE_MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return "application/octet-stream" if guessed.startswith("image/") else guessed
