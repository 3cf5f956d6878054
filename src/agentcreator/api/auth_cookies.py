"""The refresh token as a cookie, for the web app: ``ac_refresh`` is HttpOnly, ``SameSite=Strict``,
``Secure`` over https, and sent only to ``/api/auth/refresh``; so script on the page (an XSS) can
never read the 30-day token. A refresh by cookie must carry the ``X-CSRF-Token`` header equal to the
``ac_csrf`` cookie (double submit; that cookie is readable by the page, and its presence tells the app
that a session may exist). The access token stays in the app's memory.

Sign-in, registration, refresh and password change set both cookies; sign-out clears them. A refresh
by cookie answers with ``refresh_token: null`` in the body. API clients that send the refresh token in
the body keep working as before. docs/security.md.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from agentcreator.core.errors import Forbidden, Unauthorized

REFRESH_COOKIE = "ac_refresh"
CSRF_COOKIE = "ac_csrf"
CSRF_HEADER = "x-csrf-token"
REFRESH_PATH = "/api/auth/refresh"


def _https(request: Request, trust_forwarded_proto: bool) -> bool:
    if request.url.scheme == "https":
        return True
    forwarded = request.headers.get("x-forwarded-proto", "") if trust_forwarded_proto else ""
    return forwarded.split(",")[0].strip().lower() == "https"


def set_session_cookies(response: Response, request: Request, refresh_token: str, *, max_age: int,
                        trust_forwarded_proto: bool) -> None:
    secure = _https(request, trust_forwarded_proto)
    response.set_cookie(REFRESH_COOKIE, refresh_token, max_age=max_age, path=REFRESH_PATH, httponly=True,
                        samesite="strict", secure=secure)
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), max_age=max_age, path="/", httponly=False,
                        samesite="strict", secure=secure)


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, httponly=True, samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")


def refresh_token_from_cookie(request: Request) -> str:
    """The refresh token of a cookie refresh, once its CSRF header checks out."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise Unauthorized("No refresh token: sign in again", code="invalid_refresh_token")
    expected, presented = request.cookies.get(CSRF_COOKIE, ""), request.headers.get(CSRF_HEADER, "")
    if not expected or not presented or not hmac.compare_digest(expected.encode(), presented.encode()):
        raise Forbidden("Missing or wrong X-CSRF-Token header", code="csrf_failed")
    return token
