"""Registration does not tell an anonymous caller whether an email has an account (its owner finds a
notice at the next sign-in), and administrators can require approval of new accounts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from agentcreator.db.models import AccountNotice, User
from agentcreator.state import AppState
from tests.conftest import PASSWORD, UserSession

OTHER_PASSWORD = "Velvet-Otter-5519"


def _body(email: str, password: str = PASSWORD, name: str = "Someone") -> dict[str, Any]:
    return {"name": name, "email": email, "password": password, "confirmPassword": password}


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


def _shape(response: httpx.Response) -> tuple[int, Any, list[str]]:
    """What a caller can compare: the status, the body and the header names."""
    names = sorted(k for k in response.headers if k not in ("date", "content-length"))
    return response.status_code, response.json(), names


async def _require_approval(client: httpx.AsyncClient, admin: UserSession, on: bool = True) -> None:
    response = await client.patch("/api/admin/settings", headers=admin.headers,
                                  json={"registration_requires_approval": on})
    assert response.status_code == 200 and response.json()["registration_requires_approval"] is on


async def _user(state: AppState, email: str) -> User | None:
    async with state.sessions() as session:
        return (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def test_an_existing_email_gets_the_answer_of_a_new_one_and_nothing_changes(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState,
        monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    original = app_state.passwords.hash
    monkeypatch.setattr(app_state.passwords, "hash", lambda password: hashed.append(password) or original(password))
    before = await _user(app_state, bob.email)

    fresh = await client.post("/api/auth/register", json=_body("new@example.com"))
    taken = await client.post("/api/auth/register", json=_body(" BOB@example.com ", OTHER_PASSWORD, "Mallory"))

    assert _shape(fresh) == _shape(taken)
    assert fresh.status_code == 202 and fresh.json()["status"] == "created"
    assert hashed == [PASSWORD, OTHER_PASSWORD]  # the same work on both paths
    after = await _user(app_state, bob.email)
    assert before is not None and after is not None
    assert (after.name, after.password_hash, after.token_version) == (before.name, before.password_hash,
                                                                      before.token_version)
    assert (await _login(client, bob.email, OTHER_PASSWORD)).status_code == 401
    assert (await _login(client, bob.email)).status_code == 200


async def test_the_owner_finds_a_notice_at_the_next_sign_in_and_dismisses_it(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState) -> None:
    attempt = await client.post("/api/auth/register", json=_body(bob.email, OTHER_PASSWORD),
                                headers={"User-Agent": "curious-script/1.0"})
    assert attempt.status_code == 202
    signed_in = (await _login(client, bob.email)).json()
    headers = {"Authorization": f"Bearer {signed_in['access_token']}"}
    notices = (await client.get("/api/auth/notices", headers=headers)).json()
    assert notices["count"] == 1
    notice = notices["data"][0]
    assert notice["kind"] == "registration_attempt"
    assert notice["detail"] == {"address": "203.0.113.7", "user_agent": "curious-script/1.0"}
    # Nobody else sees it or can dismiss it.
    assert (await client.get("/api/auth/notices", headers=alice.headers)).json()["count"] == 0
    foreign = await client.post(f"/api/auth/notices/{notice['id']}/dismiss", headers=alice.headers)
    assert foreign.status_code == 404
    assert (await client.get("/api/auth/notices", headers=headers)).json()["count"] == 1
    assert (await client.post("/api/auth/notices/" + "x" * 40 + "/dismiss", headers=headers)).status_code == 404
    assert (await client.post(f"/api/auth/notices/{notice['id']}/dismiss")).status_code == 401

    dismissed = await client.post(f"/api/auth/notices/{notice['id']}/dismiss", headers=headers)
    assert dismissed.status_code == 204
    assert (await client.get("/api/auth/notices", headers=headers)).json() == {"data": [], "count": 0}


async def test_repeated_attempts_keep_at_most_twenty_open_notices(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    app_state.settings.auth.registrations_per_address = 100
    try:
        for _ in range(25):
            assert (await client.post("/api/auth/register", json=_body(alice.email, OTHER_PASSWORD))).status_code == 202
    finally:
        app_state.settings.auth.registrations_per_address = 10
    async with app_state.sessions() as session:
        rows = list((await session.execute(select(AccountNotice))).scalars())
    assert len(rows) == 20 and {row.user_id for row in rows} == {alice.id}


async def test_with_registration_closed_new_and_existing_emails_both_get_403(
        client: httpx.AsyncClient, alice: UserSession) -> None:
    await client.patch("/api/admin/settings", headers=alice.headers, json={"registration_open": False})
    new = await client.post("/api/auth/register", json=_body("someone@example.com"))
    existing = await client.post("/api/auth/register", json=_body(alice.email))
    assert _shape(new) == _shape(existing)
    assert new.status_code == 403 and new.json()["error"]["code"] == "registration_closed"


# --- approval ---------------------------------------------------------------------------------

async def test_with_approval_required_a_new_account_waits_and_cannot_sign_in(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState) -> None:
    await _require_approval(client, alice)
    options = (await client.get("/api/auth/options")).json()
    assert options["registration_requires_approval"] is True

    fresh = await client.post("/api/auth/register", json=_body("carol@example.com", name="Carol"))
    taken = await client.post("/api/auth/register", json=_body(bob.email, OTHER_PASSWORD))
    assert _shape(fresh) == _shape(taken)
    assert fresh.status_code == 202 and fresh.json()["status"] == "pending_approval"
    assert "approv" in fresh.json()["message"]

    waiting = await _login(client, "carol@example.com")
    assert waiting.status_code == 403 and waiting.json()["error"]["code"] == "account_pending"
    assert "approval" in waiting.json()["error"]["message"]
    wrong = await _login(client, "carol@example.com", OTHER_PASSWORD)
    unknown = await _login(client, "nobody@example.com", OTHER_PASSWORD)
    assert wrong.json() == unknown.json() and wrong.status_code == 401  # the state is told only with the password
    assert (await _login(client, bob.email)).status_code == 200  # existing accounts are not affected

    pending = (await client.get("/api/admin/users?pending=true", headers=alice.headers)).json()
    assert [(u["email"], u["is_pending"]) for u in pending["data"]] == [("carol@example.com", True)]
    others = (await client.get("/api/admin/users?pending=false", headers=alice.headers)).json()
    assert "carol@example.com" not in {u["email"] for u in others["data"]}


async def test_an_administrator_approves_or_declines_a_waiting_account(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState) -> None:
    await _require_approval(client, alice)
    for email in ("carol@example.com", "dave@example.com"):
        assert (await client.post("/api/auth/register", json=_body(email))).status_code == 202
    carol = await _user(app_state, "carol@example.com")
    dave = await _user(app_state, "dave@example.com")
    assert carol is not None and dave is not None

    # Not an administrator: refused, nothing changes.
    for action in ("approve", "decline"):
        refused = await client.post(f"/api/admin/users/{carol.id}/{action}", headers=bob.headers)
        assert refused.status_code == 403
    carol_now = await _user(app_state, carol.email)
    assert carol_now is not None and carol_now.is_pending is True
    for action in ("approve", "decline"):
        assert (await client.post(f"/api/admin/users/{'0' * 32}/{action}", headers=alice.headers)).status_code == 404
        assert (await client.post(f"/api/admin/users/{bob.id}/{action}", headers=alice.headers)).status_code == 409

    approved = await client.post(f"/api/admin/users/{carol.id}/approve", headers=alice.headers)
    assert approved.status_code == 200 and approved.json()["is_pending"] is False
    assert (await _login(client, carol.email)).status_code == 200
    assert (await client.post(f"/api/admin/users/{carol.id}/approve", headers=alice.headers)).status_code == 409

    declined = await client.post(f"/api/admin/users/{dave.id}/decline", headers=alice.headers)
    assert declined.status_code == 204
    assert await _user(app_state, dave.email) is None
    assert (await _login(client, dave.email)).status_code == 401
    audit = (await client.get("/api/admin/audit", headers=alice.headers)).json()["data"]
    assert [(e["action"], e["target_email"]) for e in audit][:2] == [
        ("registration_declined", dave.email), ("user_approved", carol.email)]


async def test_approval_off_again_leaves_waiting_accounts_waiting_and_invites_need_none(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    await _require_approval(client, alice)
    assert (await client.post("/api/auth/register", json=_body("carol@example.com"))).status_code == 202
    link = (await client.post("/api/admin/invites", headers=alice.headers, json={})).json()
    token = link["path"].removeprefix("/account-link/")
    redeemed = await client.post(f"/api/auth/links/{token}/invite",
                                 json={"name": "Erin", "email": "erin@example.com", "password": PASSWORD})
    assert redeemed.status_code == 201 and redeemed.json()["is_pending"] is False
    assert (await _login(client, "erin@example.com")).status_code == 200

    await _require_approval(client, alice, on=False)
    assert (await _login(client, "carol@example.com")).status_code == 403
    fresh = await client.post("/api/auth/register", json=_body("frank@example.com"))
    assert fresh.json()["status"] == "created"
    assert (await _login(client, "frank@example.com")).status_code == 200


async def test_only_administrators_change_the_approval_setting(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession) -> None:
    refused = await client.patch("/api/admin/settings", headers=bob.headers,
                                 json={"registration_requires_approval": True})
    assert refused.status_code == 403
    assert (await client.get("/api/auth/options")).json()["registration_requires_approval"] is False
