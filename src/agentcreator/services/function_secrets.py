"""Header secrets of HTTP function tools: sealed (encrypted with the SecretBox) before an assistant's
tools are stored, masked whenever they leave the server.

Stored form of a function's endpoint: ``{"method", "url", "query", "headers": {name: <Fernet token>}}``
(every header value is a secret: a key, a token). The API shows ``{name: MASK}``; a create or update
that sends ``MASK`` for a header keeps the value stored for that function and header, so a form can
round-trip a function without ever holding its secrets. Export documents carry the mask too: an
imported assistant needs its secrets typed again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import httpx

from agentcreator.core.errors import BlockedDestination, ValidationFailed
from agentcreator.core.outbound import AllowList, DestinationPolicy
from agentcreator.core.security import SecretBox

MASK = "********"


def mask_tools(tools: list[dict[str, Any]] | Any) -> Any:
    """A copy of stored ``tools`` whose header values are all ``MASK``."""
    if not isinstance(tools, list):
        return tools
    masked = []
    for tool in tools:
        endpoint = tool.get("endpoint") if isinstance(tool, dict) else None
        if isinstance(endpoint, dict) and isinstance(endpoint.get("headers"), dict):
            tool = {**tool, "endpoint": {**endpoint, "headers": dict.fromkeys(endpoint["headers"], MASK)}}
        masked.append(tool)
    return masked


def seal_tools(tools: list[dict[str, Any]], stored: list[dict[str, Any]] | None,
               secrets: SecretBox | None) -> list[dict[str, Any]]:
    """``tools`` as they are stored: header values encrypted; a ``MASK`` value replaced by the
    ciphertext stored for the same function name and header name (case-insensitive), or refused."""
    previous = _stored_headers(stored or [])
    sealed: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        endpoint = tool.get("endpoint") if tool.get("type") == "function" else None
        if not endpoint or not endpoint.get("headers"):
            sealed.append(tool)
            continue
        headers: dict[str, str] = {}
        for name, value in endpoint["headers"].items():
            if value == MASK:
                kept = previous.get((tool["name"], name.lower()))
                if kept is None:
                    raise _unknown_secret(index, name)
                headers[name] = kept
            else:
                if secrets is None:
                    raise RuntimeError("a SecretBox is needed to store function headers")
                headers[name] = secrets.encrypt(value)
        sealed.append({**tool, "endpoint": {**endpoint, "headers": headers}})
    return sealed


def _stored_headers(stored: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for tool in stored:
        endpoint = tool.get("endpoint") if tool.get("type") == "function" else None
        for name, value in ((endpoint or {}).get("headers") or {}).items():
            found[(tool.get("name", ""), name.lower())] = value
    return found


def _unknown_secret(index: int, header: str) -> ValidationFailed:
    message = (f"header {header} has no stored value to keep; type its value "
               "(exported assistants carry no secrets)")
    return ValidationFailed(f"tools.{index}.endpoint.headers: {message}", details=[
        {"loc": ["body", "tools", index, "endpoint", "headers", header], "msg": message,
         "type": "secret_required"}])


_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def refuse_blocked_endpoints(tools: list[dict[str, Any]], allow_hosts: Iterable[str]) -> None:
    """Refuse at save time what the guard would refuse at every call without looking a name up: a
    literal non-public address (``http://169.254.169.254/``, ``http://127.1:8080/``) that the admin's
    allow-list does not admit. Names are checked when a call connects (their addresses can change)."""
    policy = DestinationPolicy(AllowList(allow_hosts))
    for index, tool in enumerate(tools):
        endpoint = tool.get("endpoint") if tool.get("type") == "function" else None
        if not endpoint:
            continue
        try:
            policy.check_url(httpx.URL(_PLACEHOLDER.sub("x", endpoint["url"])))
        except (BlockedDestination, httpx.InvalidURL) as exc:
            message = exc.message if isinstance(exc, BlockedDestination) else str(exc)
            raise ValidationFailed(f"tools.{index}.endpoint.url: {message}", details=[
                {"loc": ["body", "tools", index, "endpoint", "url"], "msg": message,
                 "type": "blocked_destination"}]) from exc
