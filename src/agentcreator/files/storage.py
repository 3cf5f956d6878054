"""Where file bytes live, behind a small interface: a local directory now (``DATA_DIR/files``); an
S3-compatible store or a shared mount later (several machines need one of those: see docs/files.md).

Keys are generated here (``uuid4().hex``, optionally with a suffix such as ``.thumb``); a user's file
name is never part of a path. An upload is written to a local spool file first
(:class:`UploadSpool`), checked and parsed there, and only then moved into the store.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

CHUNK_BYTES = 256 * 1024
# File work (writes, hashing, parsing) runs on threads of its own: uploads never queue the event loop's
# default executor, which other work shares (password hashing, name resolution).
FILE_THREADS = 4
_executor: ThreadPoolExecutor | None = None


def _files_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:  # created on first use, not at import
        _executor = ThreadPoolExecutor(max_workers=FILE_THREADS, thread_name_prefix="files")
    return _executor


async def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the file threads (the context is not carried: file work needs none)."""
    return await asyncio.get_running_loop().run_in_executor(_files_executor(), fn, *args)
# An upload's bytes are written (and hashed) in a worker thread once this much has arrived.
SPOOL_FLUSH_BYTES = 1024 * 1024
_KEY = re.compile(r"[0-9a-f]{32}(\.[a-z]{1,8})?")


def new_key(suffix: str = "") -> str:
    return uuid.uuid4().hex + suffix


def check_key(key: str) -> str:
    """Keys are ours (hex, dots): anything else never reaches the file system."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class UploadSpool:
    """An upload on its way in: a local file written in chunks and hashed as it grows. Writing and
    hashing run in a worker thread, one flush (``SPOOL_FLUSH_BYTES``) at a time while the next one
    fills: at most two flushes' worth is in memory. ``discard`` removes the file; the store's
    ``adopt`` moves it in."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._hash = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._writing: asyncio.Future[None] | None = None
        self._handle = open(path, "xb")  # closed in close() or discard()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    async def write(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= SPOOL_FLUSH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        """Wait for the previous block, then hand this one to a worker thread (not waited for)."""
        if self._writing is not None:
            await self._writing
            self._writing = None
        if not self._pending:
            return
        block = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        self._writing = asyncio.ensure_future(run_blocking(self._write_block, block))

    def _write_block(self, block: bytes) -> None:
        self._hash.update(block)
        self._handle.write(block)

    async def close(self) -> None:
        """Write what is pending and close the file (it stays until adopted or discarded)."""
        await self._flush()
        if self._writing is not None:
            await self._writing
            self._writing = None
        self._handle.close()

    async def abort(self) -> None:
        """Stop: let a block being written finish (its outcome no longer matters), remove the file."""
        self._pending.clear()
        self._pending_bytes = 0
        if self._writing is not None:
            await asyncio.wait([self._writing])
            self._writing.exception()  # retrieved: a failed write of a discarded upload is not an error
            self._writing = None
        self._remove()

    def discard(self) -> None:
        """Remove the file now (or, with a block being written, as soon as that is done)."""
        self._pending.clear()
        self._pending_bytes = 0
        if self._writing is not None and not self._writing.done():
            # A block is being written: close and remove the file once it is done.
            self._writing.add_done_callback(lambda _: self._remove())
            return
        self._remove()

    def _remove(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)


class FileStorage(ABC):
    """The bytes of stored files by key. Implementations must be safe to use from several workers."""

    @abstractmethod
    def spool(self) -> UploadSpool:
        """A new local spool file for an incoming upload."""

    @abstractmethod
    async def adopt(self, spool: UploadSpool, key: str) -> None:
        """Move a closed spool file into the store under ``key``."""

    @abstractmethod
    async def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    async def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def iter_chunks(self, key: str) -> AsyncIterator[bytes]:
        """The bytes of ``key`` in chunks (``FileNotFoundError`` when missing)."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    async def list_keys(self, older_than_seconds: float = 0.0) -> list[str]:
        """Every stored key last written more than ``older_than_seconds`` ago."""

    @abstractmethod
    async def sweep_spools(self, older_than_seconds: float) -> int:
        """Remove spool files left by uploads that died; the number removed."""


class LocalFileStorage(FileStorage):
    """``root/<first two chars>/<key>``; spool files in ``root/tmp``. Renames within one file system
    make ``adopt`` atomic."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.spool_dir = root / "tmp"
        self.spool_dir.mkdir(parents=True, exist_ok=True)

    def path_of(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key

    def spool(self) -> UploadSpool:
        return UploadSpool(self.spool_dir / f"{uuid.uuid4().hex}.part")

    async def adopt(self, spool: UploadSpool, key: str) -> None:
        target = self.path_of(key)

        def move() -> None:
            target.parent.mkdir(exist_ok=True)
            os.replace(spool.path, target)

        await run_blocking(move)

    async def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path_of(key)

        def write() -> None:
            target.parent.mkdir(exist_ok=True)
            partial = self.spool_dir / f"{uuid.uuid4().hex}.part"
            partial.write_bytes(data)
            os.replace(partial, target)

        await run_blocking(write)

    async def read_bytes(self, key: str) -> bytes:
        return await run_blocking(self.path_of(key).read_bytes)

    async def iter_chunks(self, key: str) -> AsyncIterator[bytes]:
        handle = await run_blocking(open, self.path_of(key), "rb")
        try:
            while chunk := await run_blocking(handle.read, CHUNK_BYTES):
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        await run_blocking(self.path_of(key).unlink, True)

    async def exists(self, key: str) -> bool:
        return await run_blocking(self.path_of(key).is_file)

    async def list_keys(self, older_than_seconds: float = 0.0) -> list[str]:
        def walk() -> list[str]:
            cutoff = time.time() - older_than_seconds
            keys = []
            for shard in self.root.iterdir():
                if shard == self.spool_dir or not shard.is_dir() or len(shard.name) != 2:
                    continue
                for entry in shard.iterdir():
                    if entry.is_file() and entry.stat().st_mtime <= cutoff:
                        keys.append(entry.name)
            return keys

        return await run_blocking(walk)

    async def sweep_spools(self, older_than_seconds: float) -> int:
        def sweep() -> int:
            cutoff = time.time() - older_than_seconds
            removed = 0
            for entry in self.spool_dir.iterdir():
                if entry.is_file() and entry.stat().st_mtime <= cutoff:
                    entry.unlink(missing_ok=True)
                    removed += 1
            return removed

        return await run_blocking(sweep)
