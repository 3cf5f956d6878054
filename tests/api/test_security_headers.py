"""Security headers on every response, the CSP on HTML, HSTS over https only, HEAD on GET routes, and
a web app that runs under the CSP (no inline script in the page Vite builds)."""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentcreator.api.middleware import CONTENT_SECURITY_POLICY
from agentcreator.api.spa import resolve_web_dir
from agentcreator.main import create_app
from agentcreator.state import AppState
from tests.conftest import UserSession

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def _directives(policy: str) -> dict[str, str]:
    return {part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2] for part in policy.split(";")}


def _check_common(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "camera=()" in response.headers["permissions-policy"]


@pytest.mark.parametrize("path", ["/", "/chat/some/deep/link", "/theme-init.js", "/api/auth/options", "/health",
                                  "/api/nowhere", "/openapi.json"])
async def test_every_response_has_nosniff_referrer_and_permissions_policies(client: httpx.AsyncClient,
                                                                            path: str) -> None:
    _check_common(await client.get(path))


async def test_html_gets_a_strict_csp(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    csp = _directives(page.headers["content-security-policy"])
    assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no hosts
    assert csp["object-src"] == "'none'" and csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'"
    assert csp["default-src"] == "'self'"
    assert page.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in page.headers  # plain http
    assert (await client.get("/docs")).status_code == 404  # Swagger's page needs inline and CDN scripts


async def test_hsts_only_over_https_or_a_trusted_forwarded_proto(client: httpx.AsyncClient,
                                                                 app_state: AppState) -> None:
    https = httpx.AsyncClient(transport=httpx.ASGITransport(app=client._transport.app),  # type: ignore[attr-defined]
                              base_url="https://secure.test")
    async with https:
        assert "max-age=" in (await https.get("/health")).headers["strict-transport-security"]
    spoofed = await client.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in spoofed.headers  # the proxy is not trusted by default
    trusting = create_app(app_state.settings.model_copy(update={
        "auth": app_state.settings.auth.model_copy(update={"trust_forwarded_for": True})}))
    trusting.state.services = app_state
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=trusting), base_url="http://proxied") as c:
        assert "strict-transport-security" in (await c.get("/health", headers={"X-Forwarded-Proto": "https"})).headers
        assert "strict-transport-security" not in (await c.get("/health")).headers


async def test_head_works_on_get_routes(client: httpx.AsyncClient, alice: UserSession) -> None:
    for path, headers in (("/api/auth/me", alice.headers), ("/health", {}), ("/", {}), ("/api/models", alice.headers)):
        got, head = await client.get(path, headers=headers), await client.head(path, headers=headers)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        _check_common(head)
    assert (await client.head("/api/auth/me")).status_code == 401


async def test_head_on_an_event_stream_answers_at_once(client: httpx.AsyncClient, live_client: httpx.AsyncClient,
                                                       alice: UserSession) -> None:
    from tests.api.chat_helpers import make_chat

    _, conversation = await make_chat(client, alice)
    response = await asyncio.wait_for(live_client.head(
        f"/api/conversations/{conversation['id']}/events", headers=alice.headers), timeout=5)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"].startswith("text/event-stream")


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.sources: list[str] = []
        self._in_script = False
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Any]]) -> None:
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            src = dict(attrs).get("src")
            self._in_script = src is None
            if src:
                self.sources.append(src)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def _scripts(html: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(html)
    return parser


async def test_the_served_page_and_the_built_app_have_no_inline_script(client: httpx.AsyncClient) -> None:
    served = _scripts((await client.get("/")).text)
    assert served.inline == [] and served.handlers == []
    source = _scripts((FRONTEND / "index.html").read_text())
    assert source.inline == [] and source.handlers == [] and "/theme-init.js" in source.sources
    assert (FRONTEND / "public" / "theme-init.js").is_file()
    built = FRONTEND / "dist" / "index.html"
    if resolve_web_dir(None) == built.parent.resolve():
        for src in served.sources:
            assert (await client.get(src)).status_code == 200, src
    if built.is_file():  # after `make frontend`: Vite's output keeps it so
        page = _scripts(built.read_text())
        assert page.inline == [] and page.handlers == [] and page.sources


def test_the_csp_never_allows_inline_or_eval() -> None:
    assert "unsafe-inline" not in _directives(CONTENT_SECURITY_POLICY)["script-src"]
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
