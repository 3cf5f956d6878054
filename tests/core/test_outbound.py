"""The SSRF guard against a real local server: what it refuses (before any byte leaves), what the
allow-list admits, redirects, caps and timeouts. Names are resolved by the system resolver, or by a
resolver the test injects (the guard's resolver seam)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from agentcreator.core.config import OutboundSettings
from agentcreator.core.errors import (
    AppError,
    BlockedDestination,
    OutboundTimeout,
    ResponseTooLarge,
    TooManyRedirects,
    UpstreamUnreachable,
)
from agentcreator.core.outbound import AllowList, OutboundGuard, address_problem, literal_address
from tests.local_http import LocalHttp


def guard(*allow: str, resolver=None, **settings) -> OutboundGuard:  # type: ignore[no-untyped-def]
    return OutboundGuard(OutboundSettings(allow_hosts=list(allow), **settings), resolver=resolver)


class FakeResolver:
    """A real resolver object passed to the guard: fixed answers per name, every lookup counted."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        if host not in self.answers:
            raise OSError(f"unknown host {host}")
        return self.answers[host]


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1",
    "100.100.100.200", "169.254.169.254", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1",
    "255.255.255.255", "192.0.0.8", "192.0.2.1", "198.18.0.1", "::1", "::", "::ffff:127.0.0.1",
    "::ffff:8.8.8.8", "::127.0.0.1", "fd00:ec2::254", "fc00::1", "fe80::1", "fec0::1", "ff02::1",
    "2002:7f00:1::1", "2002:a00:1::1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2001:db8::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2", "fe80::1%eth0",
])
def test_non_public_addresses_are_named(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111",
                                     "2a00:1450:4001:80b::200e", "64:ff9b::808:808", "2002:808:808::1"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("spelling", ["127.1", "0x7f000001", "2130706433", "017700000001", "0177.0.0.1",
                                      "0x7f.0.0.1", "127.0.1"])
def test_numeric_spellings_of_loopback_are_read_as_the_address(spelling: str) -> None:
    literal = literal_address(spelling)
    assert literal is not None and literal.is_loopback


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3.0x1g", "0x", "example.123"])
def test_numeric_looking_hosts_that_are_no_address_are_refused(host: str) -> None:
    with pytest.raises(ValueError):
        literal_address(host)


def test_allow_list_entries_match_by_name_and_port() -> None:
    allow = AllowList(["localhost:11434", "search.lan", "[::1]:8080", "127.1:9000"])
    assert allow.admits("localhost", 11434) and not allow.admits("localhost", 11435)
    assert allow.admits("search.lan", 1) and allow.admits("search.lan", 443)
    assert allow.admits("::1", 8080) and not allow.admits("::1", 80)
    assert allow.admits("127.0.0.1", 9000)
    assert not allow.admits("127.0.0.1", 11434)
    for bad in ["host:0", "host:99999", "host:x", "[::1]x", "exa mple.com", ""]:
        with pytest.raises(ValueError):
            AllowList([bad])


def _blocked_urls(port: int) -> list[str]:
    return [
        f"http://localhost:{port}/ok", f"http://LOCALHOST.:{port}/ok", f"http://127.1:{port}/ok",
        f"http://0x7f000001:{port}/ok", f"http://2130706433:{port}/ok", f"http://017700000001:{port}/ok",
        f"http://127.0.0.1:{port}/ok", f"http://[::1]:{port}/ok", f"http://[::ffff:127.0.0.1]:{port}/ok",
        f"http://[::ffff:7f00:1]:{port}/ok", f"http://0.0.0.0:{port}/ok", "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/", "http://100.100.100.200/latest/meta-data/",
        "http://10.0.0.1/", "http://192.168.0.1/", "http://[fe80::1%25eth0]/",
        f"http://%31%32%37.0.0.1:{port}/ok",
        "file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "dict://example.com:11211/",
        "http://user:secret@example.com/", "http://:pw@example.com/", "//example.com/x", "/relative",
        "http:///nohost",
    ]


async def test_every_spelling_of_a_private_destination_is_refused_before_connecting(local_http: LocalHttp) -> None:
    outbound = guard()
    for url in _blocked_urls(local_http.port):
        with pytest.raises(BlockedDestination) as caught:
            await outbound.fetch("GET", url)
        assert caught.value.status_code == 400, url
    assert local_http.seen == []  # nothing reached the server
    await outbound.aclose()


async def test_a_name_that_resolves_to_a_private_address_is_refused(local_http: LocalHttp) -> None:
    resolver = FakeResolver({"intranet.example": ["127.0.0.1"],
                             "mixed.example": ["93.184.215.14", "10.0.0.7"],
                             "mapped.example": ["::ffff:127.0.0.1"]})
    outbound = guard(resolver=resolver)
    with pytest.raises(BlockedDestination, match=r"intranet.example resolves to 127.0.0.1"):
        await outbound.fetch("GET", f"http://intranet.example:{local_http.port}/ok")
    # every address must be public, not just the first
    with pytest.raises(BlockedDestination, match=r"10\.0\.0\.7"):
        await outbound.fetch("GET", "http://mixed.example/")
    with pytest.raises(BlockedDestination, match="IPv4-mapped"):
        await outbound.fetch("GET", f"http://mapped.example:{local_http.port}/ok")
    with pytest.raises(UpstreamUnreachable, match="could not be resolved"):
        await outbound.fetch("GET", "http://unknown.example/")
    assert local_http.seen == []
    await outbound.aclose()


async def test_the_system_resolver_is_used_by_default(local_http: LocalHttp) -> None:
    outbound = guard()
    with pytest.raises(BlockedDestination, match=r"localhost resolves to (127\.0\.0\.1|::1)"):
        await outbound.fetch("GET", f"http://localhost:{local_http.port}/ok")
    await outbound.aclose()


async def test_an_allowed_name_is_resolved_once_and_connected_with_its_host_header(local_http: LocalHttp) -> None:
    resolver = FakeResolver({"tools.internal": ["127.0.0.1"]})
    outbound = guard(f"tools.internal:{local_http.port}", resolver=resolver)
    response = await outbound.fetch("GET", f"http://tools.internal:{local_http.port}/echo?x=1")
    assert response.status_code == 200
    assert response.json()["headers"]["Host"] == f"tools.internal:{local_http.port}"
    assert resolver.lookups == ["tools.internal"]
    # the allow-list entry names a port: another port on the same host is refused
    with pytest.raises(BlockedDestination):
        await outbound.fetch("GET", f"http://tools.internal:{local_http.port + 1}/ok")
    await outbound.aclose()


async def test_allow_listed_local_server_is_fetched(local_http: LocalHttp) -> None:
    outbound = guard(local_http.origin)
    response = await outbound.fetch("GET", f"{local_http.base}/ok")
    assert (response.status_code, response.text, response.redirects) == (200, "hello", 0)
    assert response.headers["content-type"].startswith("text/plain")
    await outbound.aclose()


async def test_a_redirect_to_a_private_address_is_refused(local_http: LocalHttp) -> None:
    outbound = guard(local_http.origin)
    targets = [f"http://localhost:{local_http.port}/ok",  # same server, a name the allow-list lacks
               f"http://127.0.0.1:{local_http.port + 1}/ok",  # another port
               "http://169.254.169.254/latest/meta-data/iam/", "http://[::1]/", "file:///etc/passwd",
               "http://user:pw@example.com/"]
    for target in targets:
        for status in (301, 302, 303, 307, 308):
            with pytest.raises(BlockedDestination):
                await outbound.fetch("GET", f"{local_http.base}/redirect", params={"to": target, "status": status})
    assert set(local_http.paths()) == {"/redirect"}  # no hop reached /ok
    await outbound.aclose()


async def test_redirects_are_followed_up_to_the_limit(local_http: LocalHttp) -> None:
    outbound = guard(local_http.origin)
    response = await outbound.fetch("GET", f"{local_http.base}/loop/5")
    assert (response.text, response.redirects) == ("arrived", 5)
    assert response.url.endswith("/loop/0")
    with pytest.raises(TooManyRedirects):
        await outbound.fetch("GET", f"{local_http.base}/loop/6")
    with pytest.raises(TooManyRedirects):
        await outbound.fetch("GET", f"{local_http.base}/loop/forever")
    assert local_http.paths().count("/loop/forever") == 6  # the first request and 5 redirects
    strict = guard(local_http.origin, max_redirects=0)
    with pytest.raises(TooManyRedirects):
        await strict.fetch("GET", f"{local_http.base}/loop/1")
    await outbound.aclose()
    await strict.aclose()


async def test_headers_set_by_the_caller_stay_with_their_origin(local_http: LocalHttp) -> None:
    outbound = guard(local_http.origin, f"localhost:{local_http.port}")
    headers = {"X-Api-Key": "s3cret", "Authorization": "Bearer t0ken", "Accept": "application/json"}
    same = await outbound.fetch("GET", f"{local_http.base}/redirect", headers=headers,
                                params={"to": "/echo"})
    assert same.json()["headers"]["X-Api-Key"] == "s3cret"
    other = await outbound.fetch("GET", f"{local_http.base}/redirect", headers=headers,
                                 params={"to": f"http://localhost:{local_http.port}/echo"})
    seen = other.json()["headers"]
    assert "X-Api-Key" not in seen and "Authorization" not in seen
    assert seen["Accept"] == "application/json"
    await outbound.aclose()


async def test_a_body_over_the_cap_is_refused_while_streaming(local_http: LocalHttp) -> None:
    outbound = guard(local_http.origin, max_response_bytes=100_000)
    with pytest.raises(ResponseTooLarge, match="100,000"):
        await outbound.fetch("GET", f"{local_http.base}/big", params={"bytes": 5_000_000})
    with pytest.raises(ResponseTooLarge, match="300,000 bytes"):
        await outbound.fetch("GET", f"{local_http.base}/big", params={"bytes": 300_000, "declared": 1})
    small = await outbound.fetch("GET", f"{local_http.base}/big", params={"bytes": 50_000, "declared": 1})
    assert len(small.content) == 50_000
    # a per-call cap below the platform's
    with pytest.raises(ResponseTooLarge):
        await outbound.fetch("GET", f"{local_http.base}/big", params={"bytes": 20_000, "declared": 1},
                             max_bytes=10_000)
    await outbound.aclose()


async def test_slow_bodies_and_slow_headers_time_out(local_http: LocalHttp) -> None:
    outbound = guard(local_http.origin, total_timeout_seconds=1.0, read_timeout_seconds=0.5)
    with pytest.raises(OutboundTimeout, match="in total") as caught:
        await outbound.fetch("GET", f"{local_http.base}/slow-body")  # a tick every 0.1 s: only the total ends it
    assert caught.value.status_code == 504
    with pytest.raises(OutboundTimeout):
        await outbound.fetch("GET", f"{local_http.base}/slow-headers", params={"seconds": 2})
    await outbound.aclose()


async def test_a_closed_port_is_unreachable_not_blocked(local_http: LocalHttp) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    outbound = guard(f"127.0.0.1:{closed}")
    with pytest.raises(UpstreamUnreachable):
        await outbound.fetch("GET", f"http://127.0.0.1:{closed}/")
    await outbound.aclose()


async def test_the_guarded_client_checks_each_connection_and_ignores_proxy_settings(
        local_http: LocalHttp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{local_http.port}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{local_http.port}")
    outbound = guard(local_http.origin)
    async with outbound.client(follow_redirects=True) as client:
        ok = await client.get(f"{local_http.base}/loop/2")
        assert ok.text == "arrived"
        with pytest.raises(BlockedDestination):
            await client.get(f"{local_http.base}/redirect", params={"to": "http://[::1]:1/"})
        with pytest.raises(BlockedDestination):
            await client.get("http://169.254.169.254/")
    assert all(path != "/" for path in local_http.paths())  # no proxy request for the metadata URL


def test_outbound_errors_are_app_errors() -> None:
    for error in (BlockedDestination, TooManyRedirects, ResponseTooLarge, OutboundTimeout, UpstreamUnreachable):
        assert issubclass(error, AppError)


async def test_https_connects_to_the_checked_address_with_the_name_for_sni_and_the_certificate() -> None:
    import ssl

    import trustme
    from aiohttp import web

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("tools.internal").configure_cert(server_context)
    hosts: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hosts.append(request.headers["Host"])
        return web.Response(text="secure")

    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc]
    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    resolver = FakeResolver({"tools.internal": ["127.0.0.1"], "other.internal": ["127.0.0.1"]})
    try:
        outbound = OutboundGuard(OutboundSettings(allow_hosts=[f"tools.internal:{port}", f"other.internal:{port}"]),
                                 resolver=resolver, ssl_context=client_context)
        response = await outbound.fetch("GET", f"https://tools.internal:{port}/")
        assert response.text == "secure"
        assert names == ["tools.internal"]  # SNI carried the name although the socket went to 127.0.0.1
        assert hosts == [f"tools.internal:{port}"]
        # the certificate is checked against the name used: another name on the same address fails
        with pytest.raises(UpstreamUnreachable):
            await outbound.fetch("GET", f"https://other.internal:{port}/")
        await outbound.aclose()
    finally:
        await runner.cleanup()
