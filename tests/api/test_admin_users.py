"""Administrators create users, invite by a one-time link, hand out password-reset links and delete a
user with everything they own; every action is in the audit log."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from agentcreator.db.models import AccountLink, Assistant, Conversation, Message, User
from agentcreator.state import AppState
from tests.api.test_assistants_factories import add_messages, make_assistant, make_conversation
from tests.conftest import PASSWORD, UserSession

NEW_PASSWORD = "another-horse-77"

ADMIN_ONLY = [
    ("POST", "/api/admin/users", {"name": "X", "email": "x@example.com", "password": PASSWORD}),
    ("POST", "/api/admin/invites", {}),
    ("POST", "/api/admin/users/{id}/reset-link", None),
    ("DELETE", "/api/admin/users/{id}", {"confirm_email": "alice@example.com"}),
    ("GET", "/api/admin/audit", None),
]


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


def _token(link: dict) -> str:
    assert link["path"].startswith("/account-link/")
    return link["path"].removeprefix("/account-link/")


async def _audit(client: httpx.AsyncClient, admin: UserSession) -> list[tuple[str, str | None]]:
    page = (await client.get("/api/admin/audit", headers=admin.headers)).json()
    return [(e["action"], e["target_email"]) for e in page["data"]]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
async def test_non_admins_are_refused_and_nothing_changes(client: httpx.AsyncClient, alice: UserSession,
                                                          bob: UserSession, app_state: AppState, method: str,
                                                          path: str, body: dict | None) -> None:
    response = await client.request(method, path.format(id=alice.id), json=body, headers=bob.headers)
    assert response.status_code == 403
    assert (await client.request(method, path.format(id=alice.id), json=body)).status_code == 401
    async with app_state.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 2
        assert (await session.execute(select(func.count()).select_from(AccountLink))).scalar_one() == 0
    assert await _audit(client, alice) == []


async def test_create_user_then_sign_in(client: httpx.AsyncClient, alice: UserSession) -> None:
    made = await client.post("/api/admin/users", headers=alice.headers, json={
        "name": "Carol", "email": "Carol@Example.com", "password": PASSWORD})
    assert made.status_code == 201, made.text
    assert made.json()["email"] == "carol@example.com" and made.json()["is_admin"] is False
    assert (await _login(client, "carol@example.com", PASSWORD)).status_code == 200
    again = await client.post("/api/admin/users", headers=alice.headers, json={
        "name": "Carol", "email": "carol@example.com", "password": PASSWORD})
    assert again.status_code == 409
    weak = await client.post("/api/admin/users", headers=alice.headers, json={
        "name": "Dan", "email": "dan@example.com", "password": "x"})
    assert weak.status_code == 422
    assert await _audit(client, alice) == [("user_created", "carol@example.com")]


async def test_invite_link_creates_an_account_once_even_with_registration_closed(
        client: httpx.AsyncClient, alice: UserSession) -> None:
    closed = await client.patch("/api/admin/settings", json={"registration_open": False}, headers=alice.headers)
    assert closed.status_code == 200
    link = (await client.post("/api/admin/invites", json={"email": "erin@example.com"}, headers=alice.headers)).json()
    token = _token(link)
    info = (await client.get(f"/api/auth/links/{token}")).json()
    assert info["purpose"] == "invite" and info["email"] == "erin@example.com"
    body = {"name": "Erin", "email": "someone-else@example.com", "password": PASSWORD}
    made = await client.post(f"/api/auth/links/{token}/invite", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["email"] == "erin@example.com"  # the invited address, not another
    assert (await _login(client, "erin@example.com", PASSWORD)).status_code == 200
    # One time only.
    assert (await client.post(f"/api/auth/links/{token}/invite", json={**body, "email": "f@example.com"})).status_code == 404
    assert (await client.get(f"/api/auth/links/{token}")).status_code == 404
    assert await _audit(client, alice) == [("user_invited", "erin@example.com")]


async def test_reset_link_sets_a_new_password_once_and_signs_out_everywhere(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession) -> None:
    link = (await client.post(f"/api/admin/users/{bob.id}/reset-link", headers=alice.headers)).json()
    assert link["purpose"] == "reset" and link["email"] == "bob@example.com"
    token = _token(link)
    # A reset link is not an invitation, nor the other way round.
    assert (await client.post(f"/api/auth/links/{token}/invite",
                              json={"name": "M", "email": "m@example.com", "password": PASSWORD})).status_code == 404
    assert (await client.post(f"/api/auth/links/{token}/reset", json={"password": "x"})).status_code == 422
    done = await client.post(f"/api/auth/links/{token}/reset", json={"password": NEW_PASSWORD})
    assert done.status_code == 200, done.text
    assert (await client.get("/api/auth/me", headers=bob.headers)).status_code == 401
    assert (await _login(client, bob.email, PASSWORD)).status_code == 401
    assert (await _login(client, bob.email, NEW_PASSWORD)).status_code == 200
    assert (await client.post(f"/api/auth/links/{token}/reset", json={"password": "third-horse-99"})).status_code == 404
    # A newer link replaces an unused older one.
    first = _token((await client.post(f"/api/admin/users/{bob.id}/reset-link", headers=alice.headers)).json())
    second = _token((await client.post(f"/api/admin/users/{bob.id}/reset-link", headers=alice.headers)).json())
    assert (await client.get(f"/api/auth/links/{first}")).status_code == 404
    assert (await client.get(f"/api/auth/links/{second}")).status_code == 200
    assert (await client.post("/api/admin/users/" + "0" * 32 + "/reset-link", headers=alice.headers)).status_code == 404


@pytest.mark.parametrize("token", ["", "x", "a" * 300, "../../etc/passwd", "%00", "' OR 1=1 --"])
async def test_unknown_links_are_not_found(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(f"/api/auth/links/{token}")
    assert response.status_code in (404, 405)


async def test_delete_user_removes_everything_they_own_after_confirmation(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState) -> None:
    bobs = await make_conversation(bob, (await make_assistant(bob))["id"])
    await add_messages(app_state, bobs["id"], "hello", "hi")
    alices = await make_conversation(alice, (await make_assistant(alice))["id"])
    await add_messages(app_state, alices["id"], "mine")
    wrong = await client.request("DELETE", f"/api/admin/users/{bob.id}", json={"confirm_email": "alice@example.com"},
                                 headers=alice.headers)
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "confirmation_mismatch"
    self_delete = await client.request("DELETE", f"/api/admin/users/{alice.id}",
                                       json={"confirm_email": "alice@example.com"}, headers=alice.headers)
    assert self_delete.status_code == 400
    gone = await client.request("DELETE", f"/api/admin/users/{bob.id}", json={"confirm_email": " BOB@example.com "},
                                headers=alice.headers)
    assert gone.status_code == 204
    async with app_state.sessions() as session:
        assert (await session.get(User, bob.id)) is None
        owners = set((await session.execute(select(Assistant.owner_id))).scalars())
        assert owners == {alice.id}
        assert set((await session.execute(select(Conversation.id))).scalars()) == {alices["id"]}
        assert [m.text for m in (await session.execute(select(Message))).scalars()] == ["mine"]
    assert (await _login(client, bob.email, PASSWORD)).status_code == 401
    again = await client.request("DELETE", f"/api/admin/users/{bob.id}", json={"confirm_email": bob.email},
                                 headers=alice.headers)
    assert again.status_code == 404
    log = (await client.get("/api/admin/audit", headers=alice.headers)).json()
    assert [(e["actor_email"], e["action"], e["target_email"]) for e in log["data"]] == [
        ("alice@example.com", "user_deleted", "bob@example.com")]
