"""The SSRF guard: every outbound fetch of the platform (tools, image URLs, web pages, provider base
URLs) goes through :class:`OutboundGuard`. Rules in ``addresses.py``, the connection layer in
``transport.py``, the exchange (redirects, caps, timeouts) in ``guard.py``; docs/tools.md."""

from agentcreator.core.outbound.addresses import AllowList, address_problem, literal_address, normalise_host
from agentcreator.core.outbound.guard import OutboundGuard, OutboundResponse
from agentcreator.core.outbound.transport import (
    DestinationPolicy,
    GuardedBackend,
    GuardedTransport,
    Resolver,
    system_resolver,
)

__all__ = [
    "AllowList",
    "DestinationPolicy",
    "GuardedBackend",
    "GuardedTransport",
    "OutboundGuard",
    "OutboundResponse",
    "Resolver",
    "address_problem",
    "literal_address",
    "normalise_host",
    "system_resolver",
]
