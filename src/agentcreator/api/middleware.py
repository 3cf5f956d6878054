"""ASGI middleware: refuse request bodies over the configured limit before they are parsed (routes that
stream their body and enforce their own limit while reading it, file uploads, are exempt); security
headers on every response (docs/security.md)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _BodyTooLarge(Exception):
    pass


def path_pattern(template: str) -> re.Pattern[str]:
    """A route template (``/api/knowledge-bases/{base_id}/documents/upload``) as a pattern: each
    ``{parameter}`` matches one path segment, the rest matches literally."""
    parts = re.split(r"\{[A-Za-z_][A-Za-z0-9_]*\}", template)
    return re.compile("[^/]+".join(re.escape(part) for part in parts))


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, exempt: Iterable[tuple[str, str]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # (method, route template) pairs whose routes stream their body under their own limit.
        self.exempt = [(method, path_pattern(template)) for method, template in exempt]

    def _exempt(self, scope: Scope) -> bool:
        method, path = scope["method"], scope["path"]
        return any(method == m and pattern.fullmatch(path) for m, pattern in self.exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._exempt(scope):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"error": {"code": "payload_too_large",
                                     "message": f"Request body exceeds {self.max_bytes} bytes"}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


# The web app loads nothing but its own files: scripts only from this origin (no inline script, no
# eval), no plugins, never framed, no <base>. Styles allow inline attributes (Vue transitions and
# Headless UI set them); images may be data:/blob: URLs (previews).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
PERMISSIONS_POLICY = ("camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
                      "interest-cohort=(), browsing-topics=()")
HSTS = "max-age=63072000; includeSubDomains"
_EVERY_RESPONSE = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                   (b"permissions-policy", PERMISSIONS_POLICY.encode())]
_HTML = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()), (b"x-frame-options", b"DENY")]


class SecurityHeaders:
    """nosniff, Referrer-Policy and Permissions-Policy on every response; the CSP on HTML; HSTS when
    the request came over https (directly, or through a proxy whose X-Forwarded-Proto is trusted).

    ``HEAD`` is answered as ``GET`` without the body, for every GET route; a streamed answer's
    generator sees the client leave as soon as the headers are out."""

    def __init__(self, app: ASGIApp, *, trust_forwarded_proto: bool = False) -> None:
        self.app = app
        self.trust_forwarded_proto = trust_forwarded_proto

    def _https(self, scope: Scope) -> bool:
        if scope.get("scheme") == "https":
            return True
        if self.trust_forwarded_proto:
            for name, value in scope.get("headers", ()):
                if name == b"x-forwarded-proto":
                    return value.split(b",")[0].strip().lower() == b"https"
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = self._https(scope)
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        finished = False
        done = asyncio.Event()

        async def secured_send(message: Message) -> None:
            nonlocal finished
            if finished:
                return
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                extra = list(_EVERY_RESPONSE)
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    extra += _HTML
                if https:
                    extra.append((b"strict-transport-security", HSTS.encode()))
                headers += [(n, v) for n, v in extra if n not in present]
                message = {**message, "headers": headers}
                await send(message)
                if head:
                    finished = True
                    done.set()
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        async def head_receive() -> Message:
            """The client's messages until the headers of a HEAD answer are out, then a disconnect."""
            if finished:
                return {"type": "http.disconnect"}
            received = asyncio.ensure_future(receive())
            answered = asyncio.ensure_future(done.wait())
            await asyncio.wait((received, answered), return_when=asyncio.FIRST_COMPLETED)
            answered.cancel()
            if received.done():
                return received.result()
            received.cancel()
            return {"type": "http.disconnect"}

        await self.app(scope, head_receive if head else receive, secured_send)
