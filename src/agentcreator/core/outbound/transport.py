"""The connection layer of the guard: an httpx transport whose network backend resolves a host
once, checks every address it got, and connects to a checked address.

httpcore hands the backend the URL's host name; the TLS handshake that follows uses that same name
for SNI and certificate checks, and the request keeps its ``Host`` header, so connecting to the IP
we checked changes nothing for the server while leaving no second DNS answer to exploit (rebinding).
Every hop of a redirect chain opens its connection here, so every hop is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any

import anyio
import httpcore
import httpx

from agentcreator.core.errors import BlockedDestination, UpstreamUnreachable
from agentcreator.core.outbound.addresses import (
    AllowList,
    IPAddress,
    address_problem,
    literal_address,
    normalise_host,
)

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``: the guard's only way to learn a name's addresses. Tests inject one."""

ALLOWED_SCHEMES = frozenset({"http", "https"})


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo``), TCP addresses in its preferred order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class DestinationPolicy:
    """Decides where a connection may go: the scheme and credential rules for URLs, and the address
    rules (with the admin's allow-list) for the host a connection is opened to."""

    def __init__(self, allow: AllowList, resolver: Resolver | None = None) -> None:
        self.allow = allow
        self.resolver: Resolver = resolver or system_resolver

    def check_url(self, url: httpx.URL) -> None:
        """Refuse, without any network traffic, what no connection may be opened for."""
        if url.scheme not in ALLOWED_SCHEMES:
            raise BlockedDestination(f"Only http and https URLs can be fetched, not {url.scheme or 'this'}: URL")
        if url.userinfo:
            raise BlockedDestination("URLs with a user name or password in them are not fetched")
        host, literal = self._host(url.host)
        port = url.port or (443 if url.scheme == "https" else 80)
        if literal is not None and not self.allow.admits(host, port):
            problem = address_problem(literal)
            if problem:
                raise BlockedDestination(f"{host} is {problem}; only public addresses can be fetched")

    async def addresses_for(self, raw_host: str, port: int) -> list[str]:
        """The checked addresses to connect to for ``raw_host:port`` (the name resolved once)."""
        host, literal = self._host(raw_host)
        admitted = self.allow.admits(host, port)
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            try:
                answers = await self.resolver(host, port)
                addresses = list(dict.fromkeys(ipaddress.ip_address(a) for a in answers))
            except (OSError, UnicodeError) as exc:
                raise UpstreamUnreachable(f"The host {host} could not be resolved") from exc
            except ValueError as exc:
                raise UpstreamUnreachable(f"The host {host} resolved to something that is no address") from exc
            if not addresses:
                raise UpstreamUnreachable(f"The host {host} has no address")
        if not admitted:
            for address in addresses:
                problem = address_problem(address)
                if problem:
                    where = host if literal is not None else f"{host} resolves to {address}, which"
                    raise BlockedDestination(f"{where} is {problem}; only public addresses can be fetched")
        return [str(address) for address in addresses]

    @staticmethod
    def _host(raw: str) -> tuple[str, IPAddress | None]:
        try:
            host = normalise_host(raw)
            literal = literal_address(host)
        except ValueError as exc:
            raise BlockedDestination(f"Not a fetchable host: {raw[:100]!r}") from exc
        return (str(literal) if literal is not None else host), literal


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the policy checked; no Unix sockets."""

    def __init__(self, policy: DestinationPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self._policy.addresses_for(host, port)
                failure: Exception | None = None
                for address in addresses:
                    try:
                        return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                             local_address=local_address,
                                                             socket_options=socket_options)
                    except httpcore.ConnectError as exc:
                        failure = exc
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        raise failure or httpcore.ConnectError(f"cannot connect to {host}:{port}")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise BlockedDestination("Unix sockets are not reachable through the outbound guard")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# Most specific first: the first match wins.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except httpcore.ProxyError:  # no proxies here; never expected
        raise
    except tuple(source for source, _ in _ERRORS) as exc:
        target = next(t for source, t in _ERRORS if isinstance(exc, source))
        raise target(str(exc) or type(exc).__name__, request=request) from exc


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any, request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors(self._request):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport (HTTP/1.1, no proxies, no Unix sockets) that checks each request's URL and
    connects only to checked addresses."""

    def __init__(self, policy: DestinationPolicy, *, ssl_context: ssl.SSLContext | None = None,
                 max_connections: int = 100, max_keepalive_connections: int = 20,
                 keepalive_expiry: float = 5.0) -> None:
        self._policy = policy
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
            http1=True, http2=False, retries=0,
            network_backend=GuardedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._policy.check_url(request.url)
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors(request):
            response = await self._pool.handle_async_request(core_request)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_ResponseStream(response.stream, request),
                              extensions=response.extensions)

    async def aclose(self) -> None:
        await self._pool.aclose()
