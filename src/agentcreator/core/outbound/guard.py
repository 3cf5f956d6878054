"""``OutboundGuard``: the one way the platform fetches anything from a URL it was given.

``fetch()`` is the whole exchange: the URL checked, redirects followed by hand (at most
``max_redirects``, each hop checked, caller-set headers dropped when a hop leaves the origin), the
body read while streaming up to a byte cap, and connect, read and total timeouts. ``client()`` is an
``httpx.AsyncClient`` over the same guarded transport for code that needs a client (an SDK, a
stream): the address rules and URL rules hold there too; the body cap and the total timeout are then
the caller's job.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from agentcreator.core.config import OutboundSettings
from agentcreator.core.errors import (
    BlockedDestination,
    OutboundTimeout,
    ResponseTooLarge,
    TooManyRedirects,
    UpstreamUnreachable,
)
from agentcreator.core.outbound.addresses import AllowList
from agentcreator.core.outbound.transport import DestinationPolicy, GuardedTransport, Resolver

# Headers a redirect to another origin keeps; every other header the caller set (keys, tokens) stays
# with the origin it was meant for.
_PORTABLE_HEADERS = frozenset({"accept", "accept-language", "content-type", "user-agent"})


@dataclass(frozen=True)
class OutboundResponse:
    status_code: int
    headers: httpx.Headers
    url: str
    content: bytes
    encoding: str | None
    redirects: int

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def text(self) -> str:
        try:
            return self.content.decode(self.encoding or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.text)


class OutboundGuard:
    """Built once (app state) from ``settings.outbound``; ``with_allowed()`` derives a guard that also
    admits a few hosts the admin configured elsewhere (a search service)."""

    def __init__(self, settings: OutboundSettings, *, resolver: Resolver | None = None,
                 allow: AllowList | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._resolver = resolver
        # None: the system's trust store (certifi). Tests pass a context that trusts their own CA.
        self._ssl_context = ssl_context
        self.policy = DestinationPolicy(allow or AllowList(settings.allow_hosts), resolver)
        self._client: httpx.AsyncClient | None = None

    def with_allowed(self, hosts: Iterable[str]) -> OutboundGuard:
        return OutboundGuard(self.settings, resolver=self.policy.resolver, allow=self.policy.allow.extended(hosts),
                             ssl_context=self._ssl_context)

    def check_url(self, url: str | httpx.URL) -> httpx.URL:
        """The parsed URL, or BlockedDestination: scheme, credentials and literal addresses, checked
        without any network traffic (names are checked when the connection opens)."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise BlockedDestination(f"Not a valid URL: {str(url)[:200]}") from exc
        if not parsed.host:
            raise BlockedDestination(f"Not an absolute http(s) URL: {str(url)[:200]}")
        self.policy.check_url(parsed)
        return parsed

    def timeout(self) -> httpx.Timeout:
        s = self.settings
        return httpx.Timeout(s.read_timeout_seconds, connect=s.connect_timeout_seconds)

    def transport(self) -> GuardedTransport:
        """A new guarded transport (for a caller that builds its own client around it)."""
        return GuardedTransport(self.policy, ssl_context=self._ssl_context)

    def client(self, *, follow_redirects: bool = False, headers: Mapping[str, str] | None = None,
               timeout: httpx.Timeout | None = None) -> httpx.AsyncClient:
        """A new guarded client (the caller closes it). No proxies from the environment, no cookies
        kept, redirects (if followed) capped at ``max_redirects`` and checked hop by hop."""
        return httpx.AsyncClient(
            transport=self.transport(),
            trust_env=False,
            follow_redirects=follow_redirects,
            max_redirects=self.settings.max_redirects,
            timeout=timeout or self.timeout(),
            headers={"User-Agent": self.settings.user_agent, **(headers or {})},
            cookies=httpx.Cookies(CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))),
        )

    async def fetch(self, method: str, url: str | httpx.URL, *, headers: Mapping[str, str] | None = None,
                    params: Any = None, json: Any = None, content: bytes | str | None = None,
                    max_bytes: int | None = None, total_timeout: float | None = None) -> OutboundResponse:
        """One exchange through the guard. Raises the OutboundError family: BlockedDestination,
        TooManyRedirects, ResponseTooLarge, OutboundTimeout, UpstreamUnreachable. As in httpx,
        ``params`` replace the URL's own query string (merge with ``URL.copy_merge_params`` first)."""
        limit = max_bytes or self.settings.max_response_bytes
        deadline = total_timeout or self.settings.total_timeout_seconds
        target = self.check_url(url)
        client = self._shared_client()
        private = {name.lower() for name in (headers or {})} - _PORTABLE_HEADERS
        try:
            request = client.build_request(method, target, headers=headers, params=params, json=json,
                                           content=content)
        except httpx.HTTPError as exc:
            raise BlockedDestination(f"Not a valid request: {exc}") from exc
        try:
            async with asyncio.timeout(deadline):
                return await self._exchange(client, request, limit, private)
        except TimeoutError as exc:
            raise OutboundTimeout(f"{target.host} took longer than {deadline:g} s in total") from exc
        except httpx.TimeoutException as exc:
            raise OutboundTimeout(f"{target.host} did not answer in time ({type(exc).__name__})") from exc
        except httpx.UnsupportedProtocol as exc:
            raise BlockedDestination("A redirect pointed to a URL that is not http or https") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnreachable(f"{target.host} could not be reached: {exc}") from exc

    async def _exchange(self, client: httpx.AsyncClient, request: httpx.Request, limit: int,
                        private_headers: set[str]) -> OutboundResponse:
        origin = request.url.copy_with(path="/", query=None, fragment=None)
        redirects = 0
        while True:
            response = await client.send(request, stream=True)
            try:
                next_request = response.next_request
                if next_request is None:
                    content = await _read_capped(response, limit)
                    return OutboundResponse(response.status_code, response.headers, str(request.url),
                                            content, response.charset_encoding, redirects)
                redirects += 1
                if redirects > self.settings.max_redirects:
                    raise TooManyRedirects(
                        f"More than {self.settings.max_redirects} redirects, starting at {origin.host}")
                self.check_url(next_request.url)
                if next_request.url.copy_with(path="/", query=None, fragment=None) != origin:
                    for name in private_headers:
                        next_request.headers.pop(name, None)
                request = next_request
            finally:
                await response.aclose()

    def _shared_client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = self.client()
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(f"The response is {int(declared):,} bytes; the limit is {limit:,}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(f"The response is larger than the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
