"""Registration, login, the auth options, and login rate limiting."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from agentcreator.core.config import AuthSettings
from agentcreator.core.ratelimit import Backoff, MemoryRateLimiter, RedisRateLimiter
from agentcreator.db.models import AuthSession, User
from agentcreator.main import create_app
from agentcreator.state import AppState
from tests.conftest import PASSWORD, UserSession, make_settings, register

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _register_body(email: str, password: str = PASSWORD, confirm: str | None = None, **extra: object) -> dict:
    body = {"name": "Test", "email": email, "password": password,
            "confirmPassword": password if confirm is None else confirm}
    body.update(extra)
    return body


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD,
                 headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password}, headers=headers)


# --- registration ---------------------------------------------------------------------------

async def test_register_with_the_exact_front_end_payload(client: httpx.AsyncClient, app_state: AppState) -> None:
    response = await client.post(
        "/api/auth/register", headers={"Content-Type": "application/json"},
        content=b'{"name":"Test","email":"test@example.com","password":"Quiet-Harbor-2041","confirmPassword":"Quiet-Harbor-2041"}',
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "created", "message": "Your account is ready: sign in with your email "
                               "and password."}
    assert "set-cookie" not in response.headers  # no tokens: signing in is the next step
    signed_in = await _login(client, "test@example.com", "Quiet-Harbor-2041")
    assert signed_in.status_code == 200, signed_in.text
    body = signed_in.json()
    assert set(body) == {"user", "access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == app_state.settings.auth.access_token_minutes * 60
    assert set(body["user"]) == {"id", "email", "name", "is_admin", "is_disabled", "is_pending", "created_at",
                                 "last_login_at"}
    assert body["user"]["email"] == "test@example.com"
    assert body["user"]["name"] == "Test"
    assert body["user"]["is_pending"] is False
    assert "password_hash" not in signed_in.text
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"]


async def test_register_accepts_snake_case_confirm_password(client: httpx.AsyncClient) -> None:
    body = {"name": "Snake", "email": "snake@example.com", "password": PASSWORD, "confirm_password": PASSWORD}
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 202, response.text
    assert (await _login(client, "snake@example.com")).json()["user"]["name"] == "Snake"


async def test_register_creates_a_session_and_stores_only_hashes(client: httpx.AsyncClient,
                                                                 app_state: AppState) -> None:
    alice = await register(client, "alice@example.com", "Alice")
    session_id, secret = alice.refresh_token.split(".", 1)
    async with app_state.sessions() as session:
        row = await session.get(AuthSession, session_id)
        user = await session.get(User, alice.id)
    assert row is not None and user is not None
    assert row.user_id == alice.id
    assert row.revoked_at is None
    assert secret not in row.refresh_token_hash and len(row.refresh_token_hash) == 64
    assert row.client_address == "203.0.113.7"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


async def test_first_user_is_admin_and_second_is_not(alice: UserSession, bob: UserSession) -> None:
    assert alice.user["is_admin"] is True
    assert bob.user["is_admin"] is False


async def test_email_is_normalised_and_a_duplicate_changes_nothing(
        client: httpx.AsyncClient, app_state: AppState) -> None:
    first = await client.post("/api/auth/register", json=_register_body("  Carol@Example.COM "))
    assert first.status_code == 202, first.text
    signed_in = await _login(client, "cArOl@example.com")  # any casing
    assert signed_in.status_code == 200 and signed_in.json()["user"]["email"] == "carol@example.com"
    again = await client.post("/api/auth/register", json=_register_body("CAROL@example.com", "Other-Lantern-7731"))
    assert again.status_code == 202 and again.json() == first.json()
    async with app_state.sessions() as session:
        users = list((await session.execute(select(User).where(User.email == "carol@example.com"))).scalars())
    assert len(users) == 1
    assert (await _login(client, "carol@example.com", "Other-Lantern-7731")).status_code == 401
    assert (await _login(client, "carol@example.com")).status_code == 200


@pytest.mark.parametrize(("password", "fragment"), [
    ("Ab1!x-yz9", "at least 10 characters"),
    ("Password123!", "too common"),  # a common password with the usual decorations
    ("qwertyuiop", "too common"),  # a keyboard walk
    ("1234567890", "too common"),
    ("iloveyou12", "too common"),
    ("weak@example.com", "same as the email"),
    ("Weak@Example.com2", "too common"),  # the user's own email, decorated
])
async def test_weak_passwords_are_refused_with_a_clear_message(client: httpx.AsyncClient, password: str,
                                                               fragment: str) -> None:
    response = await client.post("/api/auth/register", json=_register_body("weak@example.com", password))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "weak_password"
    assert fragment in error["message"]
    assert error["details"][0]["loc"] == ["body", "password"]
    assert (await _login(client, "weak@example.com", password)).status_code == 401  # nothing was created


@pytest.mark.parametrize("password", ["correct horse battery staple", "zq8Lk2v9pw", "Tr0ub4dor&3x",
                                      "une phrase de passe assez longue, avec des mots " * 20])
async def test_long_passphrases_and_uncommon_passwords_are_accepted(client: httpx.AsyncClient,
                                                                    password: str) -> None:
    response = await client.post("/api/auth/register", json=_register_body("phrase@example.com", password))
    assert response.status_code == 202, response.text
    assert (await _login(client, "phrase@example.com", password)).status_code == 200


async def test_auth_options_tell_the_form_the_policy(client: httpx.AsyncClient) -> None:
    options = (await client.get("/api/auth/options")).json()
    assert options["password_min_length"] == 10


async def test_password_confirmation_mismatch_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/register",
                                 json=_register_body("mm@example.com", PASSWORD, "Pass123!y"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "password_mismatch"
    assert error["message"] == "Passwords do not match"
    assert error["details"][0]["loc"] == ["body", "confirm_password"]


@pytest.mark.parametrize("body", [
    {"name": "X", "email": "not-an-email", "password": PASSWORD, "confirmPassword": PASSWORD},
    {"name": "   ", "email": "blank@example.com", "password": PASSWORD, "confirmPassword": PASSWORD},
    {"email": "noname@example.com", "password": PASSWORD, "confirmPassword": PASSWORD},
    {"name": "X", "email": "big@example.com", "password": "a1" * 600, "confirmPassword": "a1" * 600},
])
async def test_malformed_registrations_are_422(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("field", ["is_admin", "token_version", "owner_id", "is_disabled"])
async def test_mass_assignment_on_register_is_refused(client: httpx.AsyncClient, field: str) -> None:
    response = await client.post("/api/auth/register", json=_register_body("mass@example.com", **{field: True}))
    assert response.status_code == 422
    assert field in response.json()["error"]["message"]
    assert (await _login(client, "mass@example.com")).status_code == 401


async def test_registration_closed_is_403_and_reported_by_options(client: httpx.AsyncClient,
                                                                   alice: UserSession) -> None:
    options = await client.get("/api/auth/options")
    assert options.json() == {"registration_open": True, "registration_requires_approval": False,
                              "password_min_length": 10, "first_account_admin": False}
    closed = await client.patch("/api/admin/settings", json={"registration_open": False}, headers=alice.headers)
    assert closed.status_code == 200
    assert (await client.get("/api/auth/options")).json()["registration_open"] is False
    response = await client.post("/api/auth/register", json=_register_body("late@example.com"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "registration_closed"
    weak = await client.post("/api/auth/register", json=_register_body("late@example.com", "weak"))
    assert weak.status_code == 403  # closed is reported before any detail of the form
    # Existing users still sign in.
    assert (await _login(client, alice.email)).status_code == 200


# --- login ----------------------------------------------------------------------------------

async def test_login_ok_returns_a_new_session(client: httpx.AsyncClient, alice: UserSession) -> None:
    response = await _login(client, alice.email)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["id"] == alice.id
    assert body["user"]["last_login_at"] is not None
    assert body["refresh_token"].split(".")[0] != alice.refresh_token.split(".")[0]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["email"] == alice.email


async def test_wrong_password_and_unknown_email_look_the_same(client: httpx.AsyncClient,
                                                              alice: UserSession) -> None:
    wrong = await _login(client, alice.email, "Wrong123!x")
    unknown = await _login(client, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"


async def test_login_body_refuses_extra_fields(client: httpx.AsyncClient, alice: UserSession) -> None:
    response = await client.post("/api/auth/login",
                                 json={"email": alice.email, "password": PASSWORD, "is_admin": True})
    assert response.status_code == 422


# --- rate limiting --------------------------------------------------------------------------

def _from(client: httpx.AsyncClient, address: str) -> httpx.AsyncClient:
    """Another client of the same app, from another address."""
    app = client._transport.app  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 5000)), base_url="http://test")


async def test_a_stranger_cannot_lock_the_owner_out(client: httpx.AsyncClient, alice: UserSession,
                                                    app_state: AppState) -> None:
    free = app_state.settings.auth.login_free_attempts_per_account_and_address
    for _ in range(free):
        assert (await _login(client, alice.email, "Wrong-Guess-123")).status_code == 401
    throttled = await _login(client, alice.email)  # from the stranger's address, even the right password waits
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(throttled.headers["Retry-After"]) <= app_state.settings.auth.login_backoff_max_seconds
    async with _from(client, "198.51.100.20") as owner:  # the owner, elsewhere, signs in at once
        assert (await _login(owner, alice.email)).status_code == 200
    # Another account from the stranger's address is not affected either.
    await register(client, "other@example.com")
    assert (await _login(client, "other@example.com")).status_code == 200


async def test_backoff_doubles_and_is_a_wait_not_a_lock() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    policy = Backoff(free=2, base=1.0, cap=8.0, memory=3600)
    assert [(await limiter.attempt("k", policy)).allowed for _ in range(2)] == [True, True]
    waits = []
    for _ in range(6):
        refused = await limiter.attempt("k", policy)
        assert refused.allowed is False
        waits.append(refused.retry_after)
        now[0] += refused.retry_after  # wait exactly as told: the next try goes through
        assert (await limiter.attempt("k", policy)).allowed is True
    assert waits == [1, 2, 4, 8, 8, 8]  # doubling, capped
    now[0] += 3600  # forgotten after a quiet hour
    assert (await limiter.attempt("k", policy)).allowed is True


async def test_successful_login_clears_the_account_and_address_count(client: httpx.AsyncClient,
                                                                     alice: UserSession, app_state: AppState) -> None:
    free = app_state.settings.auth.login_free_attempts_per_account_and_address
    for _ in range(free - 1):
        assert (await _login(client, alice.email, "Wrong-Guess-123")).status_code == 401
    assert (await _login(client, alice.email)).status_code == 200
    for _ in range(free):
        assert (await _login(client, alice.email, "Wrong-Guess-123")).status_code == 401
    assert (await _login(client, alice.email, "Wrong-Guess-123")).status_code == 429


async def test_login_is_throttled_per_address_across_accounts(client: httpx.AsyncClient, alice: UserSession,
                                                              app_state: AppState) -> None:
    free = app_state.settings.auth.login_free_attempts_per_address
    for _ in range(free * 2):  # successful sign-ins do not count against their address (an office's NAT)
        assert (await _login(client, alice.email)).status_code == 200
    for i in range(free):
        response = await _login(client, f"user{i}@example.com", headers={"X-Forwarded-For": f"198.51.100.{i}"})
        assert response.status_code == 401  # (X-Forwarded-For is ignored unless trusted)
    refused = await _login(client, "fresh@example.com", headers={"X-Forwarded-For": "192.0.2.99"})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    async with _from(client, "198.51.100.30") as elsewhere:
        assert (await _login(elsewhere, alice.email)).status_code == 200


async def test_registration_is_rate_limited_per_address(client: httpx.AsyncClient, app_state: AppState) -> None:
    limit = app_state.settings.auth.registrations_per_address
    for i in range(limit):
        assert (await client.post("/api/auth/register", json=_register_body(f"r{i}@example.com"))).status_code == 202
    refused = await client.post("/api/auth/register", json=_register_body("one-more@example.com"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "registrations" in refused.json()["error"]["message"]
    async with _from(client, "198.51.100.40") as elsewhere:
        response = await elsewhere.post("/api/auth/register", json=_register_body("one-more@example.com"))
        assert response.status_code == 202


@pytest.fixture
async def proxied_client(client: httpx.AsyncClient, database_url: str, tmp_path: Path):
    """A second app on the same database that trusts X-Forwarded-For."""
    auth = AuthSettings(argon2_time_cost=1, argon2_memory_cost=1024, trust_forwarded_for=True,
                        login_free_attempts_per_address=3)
    state = AppState.build(make_settings(database_url, tmp_path, auth=auth))
    state.rate_limiter = MemoryRateLimiter()
    application = create_app(state.settings)
    application.state.services = state
    transport = httpx.ASGITransport(app=application, client=("10.0.0.1", 5000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as proxied:
            yield proxied
    finally:
        await state.close()


async def test_forwarded_for_is_honoured_when_trusted(proxied_client: httpx.AsyncClient,
                                                      app_state: AppState) -> None:
    first = {"X-Forwarded-For": "198.51.100.1, 10.0.0.1"}
    for i in range(3):
        assert (await _login(proxied_client, f"u{i}@example.com", headers=first)).status_code == 401
    assert (await _login(proxied_client, "u9@example.com", headers=first)).status_code == 429
    # A different client behind the same proxy has its own budget.
    second = {"X-Forwarded-For": "198.51.100.2"}
    assert (await _login(proxied_client, "u9@example.com", headers=second)).status_code == 401
    # The session records the forwarded address.
    response = await proxied_client.post("/api/auth/register", json=_register_body("px@example.com"),
                                         headers={"X-Forwarded-For": "198.51.100.7"})
    assert response.status_code == 202, response.text
    response = await _login(proxied_client, "px@example.com", headers={"X-Forwarded-For": "198.51.100.7"})
    session_id = response.json()["refresh_token"].split(".")[0]
    async with app_state.sessions() as session:
        row = (await session.execute(select(AuthSession).where(AuthSession.id == session_id))).scalar_one()
    assert row.client_address == "198.51.100.7"


async def test_concurrent_first_registrations_make_exactly_one_admin(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(
        client.post("/api/auth/register", json=_register_body(f"racer{i}@example.com")) for i in range(5)))
    assert [r.status_code for r in responses] == [202] * 5, [r.text for r in responses]
    signed_in = [(await _login(client, f"racer{i}@example.com")).json() for i in range(5)]
    assert sum(body["user"]["is_admin"] for body in signed_in) == 1


async def test_concurrent_duplicate_registrations_give_one_account(client: httpx.AsyncClient,
                                                                   app_state: AppState) -> None:
    responses = await asyncio.gather(*(
        client.post("/api/auth/register", json=_register_body("twin@example.com")) for _ in range(4)))
    assert [r.status_code for r in responses] == [202] * 4, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    async with app_state.sessions() as session:
        users = (await session.execute(select(User).where(User.email == "twin@example.com"))).scalars().all()
    assert len(users) == 1


async def test_login_rate_limit_with_the_redis_limiter(client: httpx.AsyncClient, alice: UserSession,
                                                       app_state: AppState) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except (RedisConnectionError, OSError) as exc:
        await redis.aclose()
        pytest.skip(f"redis unreachable: {exc}")
    prefix = f"agentcreator-test:{uuid.uuid4().hex}:"
    app_state.rate_limiter = RedisRateLimiter(redis, prefix=prefix)
    try:
        free = app_state.settings.auth.login_free_attempts_per_account_and_address
        for _ in range(free):
            assert (await _login(client, alice.email, "Wrong123!x")).status_code == 401
        refused = await _login(client, alice.email)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert await redis.exists(f"{prefix}attempts:login:pair:203.0.113.7:{alice.email}") == 1
        async with _from(client, "198.51.100.50") as owner:
            assert (await _login(owner, alice.email)).status_code == 200
        assert await redis.exists(f"{prefix}attempts:login:pair:198.51.100.50:{alice.email}") == 0
    finally:
        keys = [key async for key in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
        app_state.rate_limiter = MemoryRateLimiter()
        await redis.aclose()


async def test_options_say_whether_the_first_account_becomes_the_administrator(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/auth/options")).json()["first_account_admin"] is True
    first = await client.post("/api/auth/register", json=_register_body("first@example.com"))
    assert first.status_code == 202, first.text
    assert (await client.get("/api/auth/options")).json()["first_account_admin"] is False
