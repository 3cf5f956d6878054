"""The local storage: spooled uploads hashed and written in order, keys checked, orphans listed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from agentcreator.files.storage import SPOOL_FLUSH_BYTES, LocalFileStorage, check_key, new_key


async def test_a_spool_writes_and_hashes_every_byte_in_order(tmp_path: Path) -> None:
    storage = LocalFileStorage(tmp_path / "files")
    blocks = [os.urandom(1000 + (i * 7919) % 6000) for i in range(900)]  # ~3.4 MB in uneven pieces
    spool = storage.spool()
    for block in blocks:
        await spool.write(block)
    await spool.close()
    data = b"".join(blocks)
    assert spool.size == len(data) > 3 * SPOOL_FLUSH_BYTES
    assert spool.sha256 == hashlib.sha256(data).hexdigest()
    key = new_key()
    await storage.adopt(spool, key)
    assert await storage.read_bytes(key) == data
    assert b"".join([chunk async for chunk in storage.iter_chunks(key)]) == data
    assert await storage.list_keys() == [key]
    assert list(storage.spool_dir.iterdir()) == []
    await storage.delete(key)
    assert not await storage.exists(key) and await storage.list_keys() == []


async def test_an_aborted_spool_leaves_nothing(tmp_path: Path) -> None:
    storage = LocalFileStorage(tmp_path / "files")
    spool = storage.spool()
    for _ in range(5):
        await spool.write(b"z" * SPOOL_FLUSH_BYTES)  # a block is being written as we abort
    await spool.abort()
    assert list(storage.spool_dir.iterdir()) == []


@pytest.mark.parametrize("key", ["../etc/passwd", "", "A" * 32, "0" * 31, "0" * 32 + "/x", "0" * 32 + ".Model", ".."])
def test_keys_are_ours_only(key: str) -> None:
    with pytest.raises(ValueError, match="not a storage key"):
        check_key(key)
