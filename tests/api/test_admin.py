"""The admin API: listing and editing users, platform settings, and who may use it."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from agentcreator.db.models import AuthSession, User
from agentcreator.state import AppState
from tests.conftest import PASSWORD, UserSession, register

ADMIN_CALLS = [
    ("GET", "/api/admin/users", None),
    ("PATCH", "/api/admin/users/{id}", {"is_admin": True}),
    ("GET", "/api/admin/settings", None),
    ("PATCH", "/api/admin/settings", {"registration_open": False}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
async def test_admin_endpoints_refuse_non_admins(client: httpx.AsyncClient, alice: UserSession,
                                                 bob: UserSession, method: str, path: str,
                                                 body: dict | None) -> None:
    url = path.format(id=bob.id)
    response = await client.request(method, url, json=body, headers=bob.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_required"
    anonymous = await client.request(method, url, json=body)
    assert anonymous.status_code == 401
    me = (await client.get("/api/auth/me", headers=bob.headers)).json()
    assert me["is_admin"] is False  # bob did not promote himself
    assert (await client.get("/api/auth/options")).json()["registration_open"] is True


async def test_list_users_with_search_and_pagination(client: httpx.AsyncClient, alice: UserSession,
                                                     bob: UserSession) -> None:
    for i in range(3):
        await register(client, f"team{i}@corp.example", f"Team Member {i}")
    everyone = await client.get("/api/admin/users", headers=alice.headers)
    assert everyone.status_code == 200
    body = everyone.json()
    assert body["count"] == 5
    assert [u["email"] for u in body["data"]][:2] == ["alice@example.com", "bob@example.com"]
    assert "password_hash" not in everyone.text and "token_version" not in everyone.text

    by_email = (await client.get("/api/admin/users", params={"q": "CORP.example"}, headers=alice.headers)).json()
    assert by_email["count"] == 3
    assert {u["email"] for u in by_email["data"]} == {f"team{i}@corp.example" for i in range(3)}

    by_name = (await client.get("/api/admin/users", params={"q": "bob"}, headers=alice.headers)).json()
    assert [u["id"] for u in by_name["data"]] == [bob.id]

    page = (await client.get("/api/admin/users", params={"limit": 2, "offset": 2}, headers=alice.headers)).json()
    assert page["count"] == 5
    assert [u["email"] for u in page["data"]] == [u["email"] for u in body["data"][2:4]]

    # LIKE wildcards in the query are literal characters.
    wildcard = (await client.get("/api/admin/users", params={"q": "%"}, headers=alice.headers)).json()
    assert wildcard == {"data": [], "count": 0}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1000}, {"offset": -1}, {"limit": "x"}])
async def test_list_users_validates_paging(client: httpx.AsyncClient, alice: UserSession, params: dict) -> None:
    response = await client.get("/api/admin/users", params=params, headers=alice.headers)
    assert response.status_code == 422


async def test_promote_and_rename_a_user(client: httpx.AsyncClient, alice: UserSession,
                                         bob: UserSession) -> None:
    response = await client.patch(f"/api/admin/users/{bob.id}", headers=alice.headers,
                                  json={"is_admin": True, "name": "Robert"})
    assert response.status_code == 200
    assert response.json()["is_admin"] is True and response.json()["name"] == "Robert"
    # Promotion takes effect on bob's existing token.
    assert (await client.get("/api/admin/users", headers=bob.headers)).status_code == 200
    # ...and so does demotion.
    demoted = await client.patch(f"/api/admin/users/{bob.id}", headers=alice.headers, json={"is_admin": False})
    assert demoted.json()["is_admin"] is False
    assert (await client.get("/api/admin/users", headers=bob.headers)).status_code == 403


async def test_disabling_revokes_sessions_and_enabling_allows_login_again(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState) -> None:
    disabled = await client.patch(f"/api/admin/users/{bob.id}", headers=alice.headers, json={"is_disabled": True})
    assert disabled.status_code == 200
    async with app_state.sessions() as session:
        user = await session.get(User, bob.id)
        rows = (await session.execute(select(AuthSession).where(AuthSession.user_id == bob.id))).scalars().all()
    assert user is not None and user.token_version == 2
    assert rows and all(r.revoked_reason == "disabled" for r in rows)

    enabled = await client.patch(f"/api/admin/users/{bob.id}", headers=alice.headers, json={"is_disabled": False})
    assert enabled.json()["is_disabled"] is False
    assert (await client.get("/api/auth/me", headers=bob.headers)).status_code == 401  # old token stays dead
    login = await client.post("/api/auth/login", json={"email": bob.email, "password": PASSWORD})
    assert login.status_code == 200


@pytest.mark.parametrize("body", [{"is_disabled": True}, {"is_admin": False}])
async def test_admin_cannot_disable_or_demote_self(client: httpx.AsyncClient, alice: UserSession,
                                                   body: dict) -> None:
    response = await client.patch(f"/api/admin/users/{alice.id}", headers=alice.headers, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "cannot_modify_self"
    me = (await client.get("/api/auth/me", headers=alice.headers)).json()
    assert me["is_admin"] is True and me["is_disabled"] is False


async def test_admin_may_rename_self(client: httpx.AsyncClient, alice: UserSession) -> None:
    response = await client.patch(f"/api/admin/users/{alice.id}", headers=alice.headers,
                                  json={"name": "Root", "is_admin": True, "is_disabled": False})
    assert response.status_code == 200
    assert response.json()["name"] == "Root"


async def test_unknown_user_is_404(client: httpx.AsyncClient, alice: UserSession) -> None:
    response = await client.patch("/api/admin/users/0123456789abcdef0123456789abcdef",
                                  headers=alice.headers, json={"name": "Ghost"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("body", [{"token_version": 99}, {"email": "x@example.com"},
                                  {"password_hash": "x"}, {"name": ""}])
async def test_admin_update_refuses_unknown_or_invalid_fields(client: httpx.AsyncClient, alice: UserSession,
                                                              bob: UserSession, body: dict) -> None:
    response = await client.patch(f"/api/admin/users/{bob.id}", headers=alice.headers, json=body)
    assert response.status_code == 422
    users = (await client.get("/api/admin/users", params={"q": "bob"}, headers=alice.headers)).json()
    assert users["data"][0]["email"] == "bob@example.com"


async def test_platform_settings_round_trip(client: httpx.AsyncClient, alice: UserSession) -> None:
    limits = {"max_concurrent_turns": 3, "turns_per_minute": 20, "uploads_per_minute": 30,
              "registration_requires_approval": False}
    assert (await client.get("/api/admin/settings", headers=alice.headers)).json() == {
        "registration_open": True, **limits}
    closed = await client.patch("/api/admin/settings", headers=alice.headers, json={"registration_open": False})
    assert closed.json() == {"registration_open": False, **limits}
    assert (await client.get("/api/admin/settings", headers=alice.headers)).json() == {
        "registration_open": False, **limits}
    unchanged = await client.patch("/api/admin/settings", headers=alice.headers, json={})
    assert unchanged.json() == {"registration_open": False, **limits}
    reopened = await client.patch("/api/admin/settings", headers=alice.headers, json={"registration_open": True})
    assert reopened.json() == {"registration_open": True, **limits}
    await register(client, "carol@example.com")
    bad = await client.patch("/api/admin/settings", headers=alice.headers, json={"signup": True})
    assert bad.status_code == 422


async def test_every_auth_and_admin_route_has_a_stable_operation_id(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    ids = {op["operationId"] for path, ops in spec["paths"].items()
           if path.startswith(("/api/auth", "/api/admin")) for op in ops.values()}
    assert ids == {
        "auth_options", "auth_register", "auth_login", "auth_refresh", "auth_logout", "auth_logout_all",
        "auth_me", "auth_update_me", "auth_change_password", "auth_link_info", "auth_redeem_invite",
        "auth_redeem_reset", "auth_list_notices", "auth_dismiss_notice",
        "admin_list_users", "admin_approve_user", "admin_decline_user", "admin_create_user", "admin_invite_user", "admin_password_reset_link",
        "admin_delete_user", "admin_audit_log", "admin_update_user", "admin_get_settings", "admin_update_settings",
        "admin_list_providers", "admin_create_provider", "admin_update_provider", "admin_delete_provider",
        "admin_test_provider",
        "admin_get_prices", "admin_put_prices", "admin_list_price_versions", "admin_get_budget_defaults",
        "admin_update_budget_defaults", "admin_get_user_budget", "admin_update_user_budget",
        "admin_reset_user_budget",
        "admin_list_mcp_servers", "admin_create_mcp_server", "admin_get_mcp_server", "admin_update_mcp_server",
        "admin_delete_mcp_server", "admin_test_mcp_server", "admin_reembed_stale_knowledge_bases",
    }
