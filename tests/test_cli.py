"""``agentcreator migrate`` and ``create-admin`` end to end, plus create_admin against the test database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from agentcreator import cli
from agentcreator.core.config import get_settings
from agentcreator.db.models import User
from agentcreator.db.session import create_engine
from agentcreator.services.accounts import create_admin
from agentcreator.state import AppState
from tests.conftest import PASSWORD, UserSession, register_and_sign_in


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AGENTCREATOR_ENV", "test")
    monkeypatch.setenv("AUTH__ARGON2_TIME_COST", "1")
    monkeypatch.setenv("AUTH__ARGON2_MEMORY_COST", "1024")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _users(url: str) -> list[User]:
    async def load() -> list[User]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(select(User).order_by(User.email))).all())
        finally:
            await engine.dispose()
    return asyncio.run(load())


def test_cli_migrate_then_create_admin(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate"]) == 0
    assert "latest migration" in capsys.readouterr().out

    assert cli.main(["create-admin", "--email", "Root@Example.com", "--name", "Root", "--password", PASSWORD]) == 0
    assert "created administrator root@example.com" in capsys.readouterr().out
    [user] = _users(cli_database)
    assert (user.email, user.name, user.is_admin, user.is_disabled) == ("root@example.com", "Root", True, False)
    assert user.password_hash.startswith("$argon2id$")

    # Running it again is harmless and says so.
    assert cli.main(["create-admin", "--email", "root@example.com", "--password", PASSWORD]) == 0
    assert "already an administrator" in capsys.readouterr().out
    assert len(_users(cli_database)) == 1


def test_cli_create_admin_refuses_a_weak_password(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate"]) == 0
    assert cli.main(["create-admin", "--email", "root@example.com", "--password", "short"]) == 1
    assert "at least 10 characters" in capsys.readouterr().err
    assert _users(cli_database) == []


def test_cli_create_admin_prompts_for_the_password(cli_database: str, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate"]) == 0
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: PASSWORD)
    assert cli.main(["create-admin", "--email", "prompted@example.com"]) == 0
    assert "created administrator" in capsys.readouterr().out
    [user] = _users(cli_database)
    assert user.name == "Administrator" and user.is_admin


async def test_create_admin_promotes_an_existing_user(client: httpx.AsyncClient, alice: UserSession,
                                                      bob: UserSession, app_state: AppState) -> None:
    message = await create_admin(app_state, email="BOB@example.com", name="ignored", password="Other123!x")
    assert message == "promoted existing user bob@example.com to administrator (password unchanged)"
    me = (await client.get("/api/auth/me", headers=bob.headers)).json()
    assert me["is_admin"] is True and me["name"] == "Bob"
    # The password was not replaced.
    login = await client.post("/api/auth/login", json={"email": bob.email, "password": PASSWORD})
    assert login.status_code == 200
    assert (await client.get("/api/admin/users", headers=bob.headers)).status_code == 200


async def test_create_admin_reenables_a_disabled_user(client: httpx.AsyncClient, alice: UserSession,
                                                      bob: UserSession, app_state: AppState) -> None:
    await client.patch(f"/api/admin/users/{bob.id}", headers=alice.headers, json={"is_disabled": True})
    message = await create_admin(app_state, email=bob.email, name="Bob", password=PASSWORD)
    assert message.startswith("promoted existing user")
    login = await client.post("/api/auth/login", json={"email": bob.email, "password": PASSWORD})
    assert login.status_code == 200 and login.json()["user"]["is_admin"] is True


async def test_create_admin_approves_an_account_waiting_for_approval(
        client: httpx.AsyncClient, app_state: AppState, alice: UserSession) -> None:
    await client.patch("/api/admin/settings", headers=alice.headers, json={"registration_requires_approval": True})
    registered = await client.post("/api/auth/register", json={
        "name": "Pat", "email": "pat@example.com", "password": PASSWORD, "confirmPassword": PASSWORD})
    assert registered.json()["status"] == "pending_approval"
    assert (await client.post("/api/auth/login", json={"email": "pat@example.com", "password": PASSWORD})
            ).status_code == 403
    message = await create_admin(app_state, email="pat@example.com", name="Pat", password=PASSWORD)
    assert message.startswith("promoted existing user")
    login = await client.post("/api/auth/login", json={"email": "pat@example.com", "password": PASSWORD})
    assert login.status_code == 200 and login.json()["user"]["is_admin"] is True


async def test_an_admin_created_first_means_the_first_registrant_is_not_admin(
        client: httpx.AsyncClient, app_state: AppState) -> None:
    message = await create_admin(app_state, email="ops@example.com", name="Ops", password=PASSWORD)
    assert message == "created administrator ops@example.com"
    body = await register_and_sign_in(client, "first@example.com", "First", PASSWORD)
    assert body["user"]["is_admin"] is False
    login = await client.post("/api/auth/login", json={"email": "ops@example.com", "password": PASSWORD})
    assert login.json()["user"]["is_admin"] is True


async def test_create_admin_refuses_a_bad_email(client: httpx.AsyncClient, app_state: AppState) -> None:
    with pytest.raises(ValueError, match="not an email address"):
        await create_admin(app_state, email="nobody", name="X", password=PASSWORD)
    async with app_state.sessions() as session:
        assert (await session.execute(select(User))).first() is None


async def _sign_up_with_a_provider(password: str) -> dict[str, str]:
    """Through the app built from the environment's settings: an admin signs up and adds a provider."""
    from agentcreator.main import create_app

    settings = get_settings()
    state = AppState.build(settings)
    app = create_app(settings)
    app.state.services = state
    try:
        await state.start(recover_interrupted=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cli") as client:
            body = await register_and_sign_in(client, "root@example.com", "Root", password)
            headers = {"Authorization": f"Bearer {body['access_token']}"}
            created = await client.post("/api/admin/providers", headers=headers, json={
                "name": "lab", "kind": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
                "allow_private_network": True, "api_key": "sk-rotated-along", "models": [{"name": "m", "context_length": 4096}]})
            assert created.status_code == 201, created.text
        return {"access": body["access_token"], "refresh": body["refresh_token"]}
    finally:
        await state.close()


async def _after_rotation(tokens: dict[str, str]) -> tuple[int, int, int, str]:
    from agentcreator.db.models import Provider
    from agentcreator.main import create_app

    settings = get_settings()
    state = AppState.build(settings)
    app = create_app(settings)
    app.state.services = state
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cli") as client:
            me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['access']}"})
            refreshed = await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh"]})
            login = await client.post("/api/auth/login", json={"email": "root@example.com", "password": PASSWORD})
        async with state.sessions() as session:
            row = (await session.execute(select(Provider))).scalar_one()
        return me.status_code, refreshed.status_code, login.status_code, state.secrets.decrypt(
            row.api_key_encrypted or "")
    finally:
        await state.close()


def test_cli_rotate_secret_reencrypts_provider_keys_and_signs_everyone_out(
        cli_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate"]) == 0
    tokens = asyncio.run(_sign_up_with_a_provider(PASSWORD))
    old_key = (tmp_path / "secret_key").read_text()
    capsys.readouterr()
    assert cli.main(["rotate-secret"]) == 0
    out = capsys.readouterr().out
    assert "re-encrypted 1 provider key(s); signed out 1 user(s) (1 session(s) revoked)" in out
    new_key = (tmp_path / "secret_key").read_text()
    assert new_key != old_key and not (tmp_path / "secret_key.new").exists()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    me, refreshed, login, api_key = asyncio.run(_after_rotation(tokens))
    assert (me, refreshed, login) == (401, 401, 200)
    assert api_key == "sk-rotated-along"
    # Resuming a rotation that stopped after the database moved (secret_key.new left behind) is harmless.
    (tmp_path / "secret_key.new").write_text(new_key)
    (tmp_path / "secret_key.new").chmod(0o600)
    (tmp_path / "secret_key").write_text(old_key)
    assert cli.main(["rotate-secret"]) == 0
    assert "re-encrypted 0 provider key(s)" in capsys.readouterr().out
    assert asyncio.run(_after_rotation(tokens))[3] == "sk-rotated-along"


def test_cli_rotate_secret_with_secret_key_in_the_environment(
        cli_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import secrets

    old, new = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    monkeypatch.setenv("SECRET_KEY", old)
    get_settings.cache_clear()
    assert cli.main(["migrate"]) == 0
    tokens = asyncio.run(_sign_up_with_a_provider(PASSWORD))
    assert cli.main(["rotate-secret"]) == 2
    assert "--new-key-stdin" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("too-short\n"))
    assert cli.main(["rotate-secret", "--new-key-stdin"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO(new + "\n"))
    assert cli.main(["rotate-secret", "--new-key-stdin"]) == 0
    monkeypatch.setenv("SECRET_KEY", new)
    get_settings.cache_clear()
    me, refreshed, _, api_key = asyncio.run(_after_rotation(tokens))
    assert (me, refreshed, api_key) == (401, 401, "sk-rotated-along")
