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
from tests.conftest import PASSWORD, UserSession


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
    assert "at least 8 characters" in capsys.readouterr().err
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


async def test_an_admin_created_first_means_the_first_registrant_is_not_admin(
        client: httpx.AsyncClient, app_state: AppState) -> None:
    message = await create_admin(app_state, email="ops@example.com", name="Ops", password=PASSWORD)
    assert message == "created administrator ops@example.com"
    response = await client.post("/api/auth/register", json={
        "name": "First", "email": "first@example.com", "password": PASSWORD, "confirmPassword": PASSWORD})
    assert response.status_code == 201
    assert response.json()["user"]["is_admin"] is False
    login = await client.post("/api/auth/login", json={"email": "ops@example.com", "password": PASSWORD})
    assert login.json()["user"]["is_admin"] is True


async def test_create_admin_refuses_a_bad_email(client: httpx.AsyncClient, app_state: AppState) -> None:
    with pytest.raises(ValueError, match="not an email address"):
        await create_admin(app_state, email="nobody", name="X", password=PASSWORD)
    async with app_state.sessions() as session:
        assert (await session.execute(select(User))).first() is None
