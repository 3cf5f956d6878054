"""The refresh token in an HttpOnly SameSite=Strict cookie scoped to the refresh path, with a CSRF
header on the cookie refresh; the web app never sees the refresh token."""

from __future__ import annotations

import httpx

from agentcreator.api.auth_cookies import CSRF_COOKIE, REFRESH_COOKIE
from tests.conftest import PASSWORD, UserSession


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


async def _login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response


async def test_sign_in_sets_an_httponly_strict_cookie_scoped_to_the_refresh_path(
        client: httpx.AsyncClient, alice: UserSession) -> None:
    cookies = _set_cookies(await _login(client, alice.email))
    refresh = cookies[REFRESH_COOKIE].lower()
    assert "httponly" in refresh and "samesite=strict" in refresh and "path=/api/auth/refresh" in refresh
    assert "secure" not in refresh  # plain http (tests): a Secure cookie would never come back
    csrf = cookies[CSRF_COOKIE].lower()
    assert "httponly" not in csrf and "samesite=strict" in csrf and "path=/" in csrf
    app = client._transport.app  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://secure.test") as https:
        over_https = _set_cookies(await _login(https, alice.email))
    assert "secure" in over_https[REFRESH_COOKIE].lower() and "secure" in over_https[CSRF_COOKIE].lower()


async def test_a_cookie_refresh_needs_the_csrf_header_and_hides_the_token(client: httpx.AsyncClient,
                                                                          alice: UserSession) -> None:
    await _login(client, alice.email)
    csrf = client.cookies[CSRF_COOKIE]
    refused = await client.post("/api/auth/refresh")  # a forged cross-site post carries cookies, not headers
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    wrong = await client.post("/api/auth/refresh", headers={"X-CSRF-Token": csrf + "x"})
    assert wrong.status_code == 403
    refreshed = await client.post("/api/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["refresh_token"] is None and body["access_token"]
    assert REFRESH_COOKIE in _set_cookies(refreshed)  # rotated in the cookie
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    again = await client.post("/api/auth/refresh", headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]})
    assert again.status_code == 200  # the rotated cookie works


async def test_without_the_cookie_a_cookie_refresh_is_401_and_sign_out_clears_it(
        client: httpx.AsyncClient, alice: UserSession) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as fresh:
        missing = await fresh.post("/api/auth/refresh", headers={"X-CSRF-Token": "x"})
        assert missing.status_code == 401
        body = (await _login(fresh, alice.email)).json()
        out = await fresh.post("/api/auth/logout", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert out.status_code == 204
        cleared = _set_cookies(out)
        assert 'max-age=0' in cleared[REFRESH_COOKIE].lower() and 'max-age=0' in cleared[CSRF_COOKIE].lower()
        assert REFRESH_COOKIE not in fresh.cookies
        assert (await fresh.post("/api/auth/refresh", headers={"X-CSRF-Token": "x"})).status_code == 401


async def test_api_clients_still_refresh_with_the_body(client: httpx.AsyncClient, alice: UserSession) -> None:
    response = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert response.status_code == 200 and response.json()["refresh_token"]
