"""Refresh rotation and reuse detection, logout, password change, profile, and token tampering."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlalchemy import update

from agentcreator.db.models import AuthSession, User
from agentcreator.state import AppState
from tests.conftest import PASSWORD, UserSession

NEW_PASSWORD = "N3w-password!"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": token})


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/auth/me", headers=_bearer(token))


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


async def _session_row(app_state: AppState, refresh_token: str) -> AuthSession:
    async with app_state.sessions() as session:
        row = await session.get(AuthSession, refresh_token.split(".")[0])
    assert row is not None
    return row


# --- refresh --------------------------------------------------------------------------------

async def test_refresh_rotates_the_secret_and_keeps_the_session(client: httpx.AsyncClient,
                                                                alice: UserSession, app_state: AppState) -> None:
    response = await _refresh(client, alice.refresh_token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["id"] == alice.id
    old_sid, old_secret = alice.refresh_token.split(".")
    new_sid, new_secret = body["refresh_token"].split(".")
    assert new_sid == old_sid and new_secret != old_secret
    assert (await _me(client, body["access_token"])).status_code == 200
    # The new refresh token rotates again.
    again = await _refresh(client, body["refresh_token"])
    assert again.status_code == 200
    assert again.json()["refresh_token"] != body["refresh_token"]


async def test_knowing_a_session_id_does_not_end_the_session(client: httpx.AsyncClient, alice: UserSession,
                                                            app_state: AppState) -> None:
    """The session id is readable in every access token (``sid``): a refresh with it and a made-up
    secret is refused and changes nothing; the holder keeps refreshing."""
    session_id = jwt.decode(alice.access_token, options={"verify_signature": False})["sid"]
    secret = alice.refresh_token.split(".")[1]
    for guess in ("guessed-secret", secret[:-1] + ("B" if secret.endswith("A") else "A"), "x" * 43):
        refused = await _refresh(client, f"{session_id}.{guess}")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_refresh_token"
    row = await _session_row(app_state, alice.refresh_token)
    assert row.revoked_at is None
    assert (await _me(client, alice.access_token)).status_code == 200
    assert (await _refresh(client, alice.refresh_token)).status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_session(client: httpx.AsyncClient,
                                                                   alice: UserSession,
                                                                   app_state: AppState) -> None:
    rotated = (await _refresh(client, alice.refresh_token)).json()
    reuse = await _refresh(client, alice.refresh_token)
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "refresh_token_reused"
    row = await _session_row(app_state, alice.refresh_token)
    assert row.revoked_at is not None and row.revoked_reason == "reuse"
    # Both the legitimate holder's refresh token and its access token are now dead.
    assert (await _refresh(client, rotated["refresh_token"])).status_code == 401
    me = await _me(client, rotated["access_token"])
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "session_revoked"


async def test_reuse_does_not_touch_other_sessions(client: httpx.AsyncClient, alice: UserSession) -> None:
    other = await _login(client, alice.email)
    await _refresh(client, alice.refresh_token)
    assert (await _refresh(client, alice.refresh_token)).status_code == 401
    assert (await _me(client, other["access_token"])).status_code == 200
    assert (await _refresh(client, other["refresh_token"])).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "no-dot-at-all", ".secret", "sid.", "x" * 40 + ".abc",
                                   "0123456789abcdef0123456789abcdef.secret"])
async def test_unknown_or_malformed_refresh_tokens_are_401(client: httpx.AsyncClient, token: str) -> None:
    response = await _refresh(client, token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_refresh_token"


async def test_expired_refresh_token_is_401(client: httpx.AsyncClient, alice: UserSession,
                                            app_state: AppState) -> None:
    async with app_state.sessions() as session:
        await session.execute(update(AuthSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await session.commit()
    response = await _refresh(client, alice.refresh_token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "refresh_token_expired"


async def test_refresh_token_is_not_an_access_token(client: httpx.AsyncClient, alice: UserSession) -> None:
    assert (await _me(client, alice.refresh_token)).status_code == 401
    assert (await _refresh(client, alice.access_token)).status_code == 401


# --- logout ---------------------------------------------------------------------------------

async def test_logout_revokes_only_the_current_session(client: httpx.AsyncClient, alice: UserSession,
                                                       app_state: AppState) -> None:
    other = await _login(client, alice.email)
    response = await client.post("/api/auth/logout", headers=alice.headers)
    assert response.status_code == 204
    assert response.content == b""
    me = await _me(client, alice.access_token)
    assert me.status_code == 401 and me.json()["error"]["code"] == "session_revoked"
    refused = await _refresh(client, alice.refresh_token)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "session_revoked"
    assert (await _session_row(app_state, alice.refresh_token)).revoked_reason == "logout"
    assert (await _me(client, other["access_token"])).status_code == 200


async def test_logout_requires_authentication(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/logout")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


async def test_logout_all_ends_every_session(client: httpx.AsyncClient, alice: UserSession,
                                             bob: UserSession, app_state: AppState) -> None:
    other = await _login(client, alice.email)
    assert (await client.post("/api/auth/logout-all", headers=alice.headers)).status_code == 204
    for token in (alice.access_token, other["access_token"]):
        assert (await _me(client, token)).status_code == 401
    for token in (alice.refresh_token, other["refresh_token"]):
        assert (await _refresh(client, token)).status_code == 401
    async with app_state.sessions() as session:
        user = await session.get(User, alice.id)
    assert user is not None and user.token_version == 2
    # Other users are untouched, and alice can sign in again.
    assert (await _me(client, bob.access_token)).status_code == 200
    fresh = await _login(client, alice.email)
    assert (await _me(client, fresh["access_token"])).status_code == 200


# --- password change ------------------------------------------------------------------------

async def test_password_change_keeps_current_session_and_revokes_others(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    other = await _login(client, alice.email)
    response = await client.post("/api/auth/password", headers=alice.headers, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    # Same session, new secret, new access token that works.
    assert body["refresh_token"].split(".")[0] == alice.refresh_token.split(".")[0]
    assert body["refresh_token"] != alice.refresh_token
    assert (await _me(client, body["access_token"])).status_code == 200
    assert (await _refresh(client, body["refresh_token"])).status_code == 200
    # The old access token (old token version) and the other device are out.
    assert (await _me(client, alice.access_token)).status_code == 401
    assert (await _me(client, other["access_token"])).status_code == 401
    assert (await _refresh(client, other["refresh_token"])).status_code == 401
    assert (await _session_row(app_state, other["refresh_token"])).revoked_reason == "password_change"
    # Only the new password signs in.
    failed = await client.post("/api/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert failed.status_code == 401
    await _login(client, alice.email, NEW_PASSWORD)


async def test_password_change_with_wrong_current_password(client: httpx.AsyncClient,
                                                           alice: UserSession) -> None:
    response = await client.post("/api/auth/password", headers=alice.headers, json={
        "current_password": "Wrong123!x", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_password"
    assert (await _me(client, alice.access_token)).status_code == 200  # nothing changed
    await _login(client, alice.email)


@pytest.mark.parametrize(("new", "confirm", "code"), [
    ("short1!", "short1!", "weak_password"),
    (NEW_PASSWORD, NEW_PASSWORD + "x", "password_mismatch"),
    ("alice@example.com", "alice@example.com", "weak_password"),
])
async def test_password_change_applies_the_policy(client: httpx.AsyncClient, alice: UserSession,
                                                  new: str, confirm: str, code: str) -> None:
    response = await client.post("/api/auth/password", headers=alice.headers, json={
        "current_password": PASSWORD, "new_password": new, "confirmPassword": confirm})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    await _login(client, alice.email)


async def test_password_change_requires_authentication(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/password", json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 401


# --- profile --------------------------------------------------------------------------------

async def test_me_and_update_name(client: httpx.AsyncClient, alice: UserSession) -> None:
    me = (await _me(client, alice.access_token)).json()
    assert me["email"] == alice.email and me["is_admin"] is True and me["is_disabled"] is False
    response = await client.patch("/api/auth/me", headers=alice.headers, json={"name": "  Alice B.  "})
    assert response.status_code == 200
    assert response.json()["name"] == "Alice B."
    assert (await _me(client, alice.access_token)).json()["name"] == "Alice B."


@pytest.mark.parametrize("body", [{"name": "x", "is_admin": True}, {"email": "evil@example.com"},
                                  {"name": ""}, {}])
async def test_update_me_refuses_other_fields(client: httpx.AsyncClient, bob: UserSession, body: dict) -> None:
    response = await client.patch("/api/auth/me", headers=bob.headers, json=body)
    assert response.status_code == 422
    me = (await _me(client, bob.access_token)).json()
    assert me["is_admin"] is False and me["email"] == bob.email


# --- access token tampering -----------------------------------------------------------------

def _claims(user: UserSession, **overrides: object) -> dict:
    now = datetime.now(UTC)
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    claims.update({"iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp())})
    claims.update(overrides)
    return claims


def _key(app_state: AppState) -> bytes:
    return hashlib.sha256(("access:" + app_state.settings.secret_key).encode()).digest()


async def test_a_correctly_crafted_token_is_accepted(client: httpx.AsyncClient, alice: UserSession,
                                                     app_state: AppState) -> None:
    # Guards the tests below: they fail for the tampering, not for a wrong key derivation.
    token = jwt.encode(_claims(alice), _key(app_state), algorithm="HS256")
    assert (await _me(client, token)).status_code == 200


async def test_alg_none_is_refused(client: httpx.AsyncClient, alice: UserSession) -> None:
    token = jwt.encode(_claims(alice), None, algorithm="none")
    response = await _me(client, token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_bad_signature_is_refused(client: httpx.AsyncClient, alice: UserSession) -> None:
    token = jwt.encode(_claims(alice), b"another-key-entirely-0123456789ab", algorithm="HS256")
    assert (await _me(client, token)).status_code == 401
    header, payload, signature = alice.access_token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert (await _me(client, f"{header}.{payload}.{flipped}")).status_code == 401


async def test_expired_token_is_refused(client: httpx.AsyncClient, alice: UserSession,
                                        app_state: AppState) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = _claims(alice, iat=int(past.timestamp()), exp=int((past + timedelta(minutes=5)).timestamp()))
    response = await _me(client, jwt.encode(claims, _key(app_state), algorithm="HS256"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


async def test_forged_claims_are_refused(client: httpx.AsyncClient, alice: UserSession, bob: UserSession,
                                         app_state: AppState) -> None:
    # Another user's id with alice's session, a stale token version, a non-access token type.
    for claims in (_claims(alice, sub=bob.id), _claims(alice, ver=0), _claims(alice, typ="refresh")):
        response = await _me(client, jwt.encode(claims, _key(app_state), algorithm="HS256"))
        assert response.status_code == 401, claims


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer", ""])
async def test_garbage_authorization_is_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get("/api/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"invalid_token", "not_authenticated"}


# --- disabled accounts and imported hashes ------------------------------------------------

async def test_disabled_user_is_refused_on_the_next_request(client: httpx.AsyncClient, alice: UserSession,
                                                            bob: UserSession) -> None:
    assert (await _me(client, bob.access_token)).status_code == 200
    response = await client.patch(f"/api/admin/users/{bob.id}", headers=alice.headers,
                                  json={"is_disabled": True})
    assert response.status_code == 200 and response.json()["is_disabled"] is True
    assert (await _me(client, bob.access_token)).status_code == 401
    assert (await _refresh(client, bob.refresh_token)).status_code == 401
    login = await client.post("/api/auth/login", json={"email": bob.email, "password": PASSWORD})
    assert login.status_code == 401
    assert login.json()["error"]["code"] == "account_disabled"
    # A wrong password for a disabled account does not reveal that it is disabled.
    wrong = await client.post("/api/auth/login", json={"email": bob.email, "password": "Wrong123!x"})
    assert wrong.json()["error"]["code"] == "invalid_credentials"


async def test_bcrypt_hash_logs_in_and_is_upgraded_to_argon2id(client: httpx.AsyncClient, alice: UserSession,
                                                               app_state: AppState) -> None:
    from pwdlib.hashers.bcrypt import BcryptHasher

    imported = BcryptHasher(rounds=4).hash("Imported1!")
    assert imported.startswith("$2b$")
    async with app_state.sessions() as session:
        await session.execute(update(User).where(User.id == alice.id).values(password_hash=imported))
        await session.commit()
    await _login(client, alice.email, "Imported1!")
    async with app_state.sessions() as session:
        user = await session.get(User, alice.id)
    assert user is not None and user.password_hash.startswith("$argon2id$")
    await _login(client, alice.email, "Imported1!")  # still the same password


async def test_malformed_stored_hash_is_a_failed_login_not_a_500(client: httpx.AsyncClient, alice: UserSession,
                                                                  app_state: AppState) -> None:
    async with app_state.sessions() as session:
        await session.execute(update(User).where(User.id == alice.id).values(password_hash="not-a-hash"))
        await session.commit()
    response = await client.post("/api/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
