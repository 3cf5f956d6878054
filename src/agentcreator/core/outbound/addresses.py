"""Which destinations the platform may reach: the address rules and the admin's allow-list.

An address is public unless it is loopback, private, shared (CGNAT), link-local (cloud metadata
169.254.169.254 included), multicast, reserved, unspecified, documentation or benchmark space, an IPv6
unique-local or site-local address (fd00:ec2::254 included), an IPv4-mapped or IPv4-compatible IPv6
address, or a 6to4 / NAT64 address embedding a non-public IPv4 address. Python's ``is_global`` alone is
not enough (on 3.11 it calls 192.0.0.8, fec0::1 and ::7f00:1 global), so the networks are listed too.

Host names in URLs are normalised before anything else: lower case, no trailing dot, and the numeric
IPv4 spellings that ``inet_aton`` accepts (``127.1``, ``0x7f000001``, ``2130706433``,
``017700000001``) are read as the address they mean, never handed to a resolver.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_BLOCKED_V4 = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
))
_BLOCKED_V6 = tuple(ipaddress.IPv6Network(n) for n in (
    "::/96", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20",
    "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_NUMERIC_V4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$")
_HOST_CHARS = re.compile(r"^[a-z0-9._:-]+$")


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (a short phrase), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "a scoped (link-local) IPv6 address"
        if ip.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            problem = address_problem(embedded)
            return f"a NAT64 address of {problem}" if problem else None
        if ip in _SIX_TO_FOUR and ip.sixtofour is not None:
            problem = address_problem(ip.sixtofour)
            if problem:
                return f"a 6to4 address of {problem}"
        blocked = _BLOCKED_V6
    else:
        blocked = _BLOCKED_V4
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or any(ip in net for net in blocked) or ip.is_reserved or not ip.is_global:
        return "a private or reserved address"
    return None


def normalise_host(host: str) -> str:
    """Lower case, without brackets or a trailing dot; refuses characters no host name has."""
    value = host.strip().lower()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    if value.endswith("."):
        value = value[:-1]
    if not value or ".." in value or value.startswith(".") or not _HOST_CHARS.fullmatch(value):
        raise ValueError(f"not a valid host name: {host[:100]!r}")
    return value


def literal_address(host: str) -> IPAddress | None:
    """The address a (normalised) host spells literally, in any numeric IPv4 form, or None for a name.

    Raises ValueError for something that looks numeric but is no address (``999.1.1.1``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if ":" in host:
        raise ValueError(f"not a valid IPv6 address: {host[:100]!r}")
    if _NUMERIC_V4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError as exc:
            raise ValueError(f"not a valid IPv4 address: {host[:100]!r}") from exc
    last_label = host.rsplit(".", 1)[-1]
    if last_label.isdigit() or last_label.startswith("0x"):
        raise ValueError(f"not a valid host name: {host[:100]!r}")
    return None


@dataclass(frozen=True)
class AllowEntry:
    host: str
    port: int | None

    def matches(self, host: str, port: int) -> bool:
        return self.host == host and (self.port is None or self.port == port)


class AllowList:
    """The admin's named internal destinations: ``host`` (any port) or ``host:port``; IPv6 as
    ``[::1]:11434``. A request is admitted by the name it uses: ``localhost:11434`` does not admit
    ``127.0.0.1:11434``."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.entries = tuple(parse_allow_entry(entry) for entry in entries)

    def admits(self, host: str, port: int) -> bool:
        return any(entry.matches(host, port) for entry in self.entries)

    def extended(self, entries: Iterable[str]) -> AllowList:
        extra = AllowList(entries)
        combined = AllowList()
        combined.entries = self.entries + extra.entries
        return combined


def parse_allow_entry(entry: str) -> AllowEntry:
    text = entry.strip()
    port: int | None = None
    if text.startswith("["):
        host_part, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad allow-list entry {entry!r}")
            port = _port(rest[1:], entry)
    elif text.count(":") == 1:
        host_part, _, port_text = text.partition(":")
        port = _port(port_text, entry)
    else:
        host_part = text
    host = normalise_host(host_part)
    literal = literal_address(host)
    return AllowEntry(str(literal) if literal is not None else host, port)


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in allow-list entry {entry!r}")
    return int(text)
