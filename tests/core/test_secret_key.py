"""The secret key: generated into DATA_DIR when SECRET_KEY is unset (0600, atomic, one per data
directory), never a value that appears in the repository, never short."""

from __future__ import annotations

import hashlib
import multiprocessing
import re
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from pydantic import ValidationError

from agentcreator.core import secret_key as keys
from agentcreator.main import create_app
from agentcreator.state import AppState
from tests.conftest import PASSWORD, make_settings, register_and_sign_in

REPO = Path(__file__).resolve().parents[2]


def _forge(secret: str, user_id: str, session_id: str) -> str:
    """An access token signed as the server would sign it with ``secret``, valid for a year."""
    now = datetime.now(UTC)
    payload = {"sub": user_id, "sid": session_id, "ver": 1, "typ": "access", "iat": int(now.timestamp()),
               "exp": int((now + timedelta(days=365)).timestamp())}
    return jwt.encode(payload, hashlib.sha256(("access:" + secret).encode()).digest(), algorithm="HS256")


async def test_without_secret_key_the_server_generates_one_and_workers_share_it(
        migrated_engine: object, database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = make_settings(database_url, data_dir, secret_key=None)
    first, second = AppState.build(settings), AppState.build(settings)  # two workers, one data directory
    stranger = AppState.build(make_settings(database_url, tmp_path / "other", secret_key=None))
    try:
        path = data_dir / "secret_key"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        stored = path.read_text().strip()
        assert len(stored) >= 32 and stored not in keys.PUBLIC_KEYS
        apps = [create_app(settings), create_app(settings), create_app(stranger.settings)]
        for app, state in zip(apps, (first, second, stranger), strict=True):
            app.state.services = state
        transports = [httpx.ASGITransport(app=app, client=("203.0.113.9", 1)) for app in apps]
        async with httpx.AsyncClient(transport=transports[0], base_url="http://w1") as w1, \
                httpx.AsyncClient(transport=transports[1], base_url="http://w2") as w2, \
                httpx.AsyncClient(transport=transports[2], base_url="http://w3") as w3:
            body = await register_and_sign_in(w1, f"k{tmp_path.name}@example.com", "K", PASSWORD)
            headers = {"Authorization": f"Bearer {body['access_token']}"}
            assert (await w2.get("/api/auth/me", headers=headers)).status_code == 200  # same key
            assert (await w3.get("/api/auth/me", headers=headers)).status_code == 401  # another key
            # A token forged with any key published in the repository is refused (the old development
            # default signed every server's tokens when SECRET_KEY was unset).
            session_id = body["refresh_token"].split(".")[0]
            for public in sorted(keys.PUBLIC_KEYS):
                forged = _forge(public, body["user"]["id"], session_id)
                me = await w1.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
                assert me.status_code == 401, public
            assert (await w1.get("/api/auth/me", headers={
                "Authorization": f"Bearer {_forge(stored, body['user']['id'], session_id)}"})).status_code == 200
    finally:
        for state in (first, second, stranger):
            await state.close()


def _load(data_dir: str) -> str:
    return keys.load_or_create(Path(data_dir))


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        found = pool.map(_load, [str(tmp_path)] * 12)
    assert len(set(found)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left behind


@pytest.mark.parametrize("bad", [*sorted(keys.PUBLIC_KEYS), "x" * 31, "é" * 15, "short"])
def test_short_or_published_keys_are_refused_at_start(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        make_settings("sqlite+aiosqlite://", tmp_path, secret_key=bad)


def test_a_stored_key_readable_by_others_or_too_short_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    keys.load_or_create(tmp_path)
    path.chmod(0o644)
    with pytest.raises(keys.SecretKeyError, match="chmod 600"):
        keys.load_or_create(tmp_path)
    path.chmod(0o600)
    path.write_text("too-short\n")
    with pytest.raises(keys.SecretKeyError, match="at least 32 bytes"):
        keys.load_or_create(tmp_path)


# Assignments of a literal to something named like a secret key, in any tracked file.
_ASSIGNED = re.compile(r"""(?i)(?:secret_?key|secret)["']?\s*[:=]\s*["']([^"'\s$(){}]{6,})["']""")


def test_no_key_that_appears_in_the_repository_is_accepted() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    history = subprocess.run(["git", "log", "-p", "-G", "[Ss][Ee][Cc][Rr][Ee][Tt]", "--", "*.py", "*.md", "*.env*"],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout
    found = set(_ASSIGNED.findall(history))
    for name in files:
        path = REPO / name
        if path.suffix in {".py", ".md", ".toml", ".sh", ".yml", ".yaml", ".env", ".ts", ".json"} and path.is_file():
            found.update(_ASSIGNED.findall(path.read_text(encoding="utf-8", errors="ignore")))
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.strip() == "true"
    if not shallow:
        assert "dev-insecure-secret-change-me" in found  # the scan sees the old default in the history
    accepted = sorted(value for value in found if keys.key_problem(value) is None)
    assert accepted == []
