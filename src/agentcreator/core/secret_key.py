"""The server's secret key: from ``SECRET_KEY``, or generated on first start and kept in ``DATA_DIR``.

The key signs access tokens and derives the key that encrypts provider API keys at rest, so it must
never be a value anyone can read: a key shorter than 32 bytes, or one that has appeared in this
repository (the old development default, the keys tests and docs used), is refused at start-up.

With no ``SECRET_KEY``, the first process to start writes ``DATA_DIR/secret_key`` (mode 0600): the
file is written under a temporary name and linked into place, which fails if another worker got there
first; the loser reads the winner's key. Every worker of a server (and every host sharing the data
directory) therefore signs with the same key. docs/security.md.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

KEY_FILE_NAME = "secret_key"
MIN_KEY_BYTES = 32

# Every key value that has been public in this repository or its history. tests/core/test_secret_key.py
# scans the repository for assignments to a secret key and checks each one is refused.
PUBLIC_KEYS = frozenset({
    "dev-insecure-secret-change-me",  # the development default before the generated key
    "test-secret-key-that-is-long-enough-0123456789",  # tests/conftest.py before the generated key
    "unit-test-secret-0123456789abcdef0123",  # tests/core/test_security.py before the generated key
})


class SecretKeyError(ValueError):
    """The configured or stored key is unusable; the message says what to do."""


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be used, or None."""
    if key.strip() in PUBLIC_KEYS:
        return "SECRET_KEY is a value published in the Agent Creator repository; generate a random one"
    if len(key.encode()) < MIN_KEY_BYTES:
        return f"SECRET_KEY must be at least {MIN_KEY_BYTES} bytes long (a random string)"
    return None


def check_key(key: str) -> str:
    problem = key_problem(key)
    if problem is not None:
        raise SecretKeyError(problem)
    return key


def generate_key() -> str:
    return secrets.token_urlsafe(48)


def key_file(data_dir: Path) -> Path:
    return data_dir / KEY_FILE_NAME


def read_key_file(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretKeyError(f"{path} is readable by other users (mode {mode:o}); run: chmod 600 {path}")
    key = path.read_text(encoding="utf-8").strip()
    problem = key_problem(key)
    if problem is not None:
        raise SecretKeyError(f"{path}: {problem}")
    return key


def write_new_key_file(path: Path, key: str) -> bool:
    """Create ``path`` holding ``key`` (mode 0600) atomically; False if it already exists.

    The content is complete before the name appears (written to a private temporary file, then
    hard-linked to ``path``, which never replaces an existing file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def pending_key_file(data_dir: Path) -> Path:
    """Where ``rotate-secret`` keeps the new key until the database has been moved to it."""
    return data_dir / (KEY_FILE_NAME + ".new")


def load_or_create(data_dir: Path) -> str:
    """The key stored in ``data_dir``, generated there on first use."""
    path = key_file(data_dir)
    if not path.exists():
        write_new_key_file(path, generate_key())
    return read_key_file(path)


def resolve(configured: str | None, data_dir: Path) -> str:
    """The key to use: ``SECRET_KEY`` when set (checked), else the one kept in ``data_dir``."""
    if configured is not None:
        return check_key(configured)
    return load_or_create(data_dir)
