"""Function tools: the ``function`` config type.

A function with an ``endpoint`` runs on the server as one HTTP request through the outbound guard:
``{param}`` placeholders of the URL template take the arguments of the same name (URL-encoded as one
path segment or query value); the names in ``endpoint.query`` go to the query string; the other
arguments go to the query string for GET and DELETE and to a JSON body for POST, PUT and PATCH.
Header values are stored encrypted (services/function_secrets.py) and decrypted here, when the tool
is built. A non-2xx answer is a ToolError with the status and the start of the body.

A function without an endpoint is client-side: the run pauses in ``requires_action`` and the API
caller submits its output.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import jsonschema

from agentcreator.core.errors import BlockedDestination, OutboundError, ResponseTooLarge
from agentcreator.core.outbound import OutboundGuard
from agentcreator.core.security import SecretBox
from agentcreator.tools.base import Tool, ToolContext, ToolError, ToolResult

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]{0,63})\}")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_OUTPUT_CHARS = 20_000
EXCERPT_CHARS = 300


def check_url_template(template: str) -> list[str]:
    """The placeholder names of an endpoint URL template; ValueError unless it is an absolute http(s)
    URL without credentials whose scheme, host and port hold no placeholder."""
    names = PLACEHOLDER.findall(template)
    probe = PLACEHOLDER.sub("x", template)
    if "{" in probe or "}" in probe:
        raise ValueError("placeholders are written {name} (letters, digits, _ . -)")
    parts = urlsplit(template)
    if parts.scheme not in ("http", "https"):
        raise ValueError("the URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("the URL needs a host")
    if "@" in parts.netloc:
        raise ValueError("the URL must not carry a user name or password; use a header")
    if "{" in parts.netloc or "{" in parts.scheme:
        raise ValueError("placeholders may only appear in the path and the query, not in the host")
    if parts.fragment:
        raise ValueError("the URL must not have a #fragment")
    return names


class ClientFunctionTool(Tool):
    """Run by the API caller: the run waits in ``requires_action`` for its output."""

    client_side = True

    def __init__(self, name: str, description: str, parameters: dict[str, Any]) -> None:
        self.name = name
        self.description = description
        self.parameters = parameters
        self.activity = f"Waiting for {name}…"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raise ToolError(f"{self.name} is run by the application that called this assistant, not by the server")


class HttpFunctionTool(Tool):
    def __init__(self, name: str, description: str, parameters: dict[str, Any], *, method: str,
                 url: str, headers: dict[str, str], query: list[str], guard: OutboundGuard) -> None:
        self.name = name
        self.description = description
        self.parameters = parameters
        self.method = method
        self.url = url
        self.headers = headers
        self.query = set(query)
        self.guard = guard
        self.placeholders = set(PLACEHOLDER.findall(url))
        self.timeout_seconds = guard.settings.total_timeout_seconds + 1
        self.activity = f"Calling {name}…"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        if not isinstance(arguments, dict):
            raise ToolError("Arguments must be a JSON object")
        # null means "not given" (models in strict mode send null for optional arguments)
        arguments = {k: v for k, v in arguments.items() if v is not None}
        self._validate(arguments)
        url = PLACEHOLDER.sub(lambda m: _path_value(m.group(1), arguments), self.url)
        leftover = {k: v for k, v in arguments.items() if k not in self.placeholders}
        query = [(k, v) for k, value in leftover.items() if k in self.query or self.method not in BODY_METHODS
                 for v in _query_values(k, value)]
        body = {k: v for k, v in leftover.items() if k not in self.query} if self.method in BODY_METHODS else None
        headers = {"Accept": "application/json, text/plain;q=0.9, */*;q=0.5", **self.headers}
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ToolError(f"The arguments make an invalid URL for {self.name}: {exc}") from exc
        if query:  # added to the template's own query, not in its place
            target = target.copy_merge_params(query)
        try:
            response = await self.guard.fetch(self.method, target, headers=headers, json=body)
        except BlockedDestination as exc:
            raise ToolError(f"The endpoint of {self.name} may not be called: {exc.message}. "
                            "Do not retry; tell the user the function is misconfigured.") from exc
        except ResponseTooLarge as exc:
            raise ToolError(f"The answer of {self.name} was too large to read ({exc.message}). "
                            "Ask for less (filters, a smaller page).") from exc
        except OutboundError as exc:
            raise ToolError(f"Calling {self.name} failed: {exc.message}") from exc
        kind = response.content_type
        if response.content and kind and not _is_text(kind):
            if not response.is_success:
                raise ToolError(f"{self.name} answered HTTP {response.status_code} ({kind})")
            return ToolResult(output=f"{self.name} answered with {len(response.content):,} bytes of {kind}, "
                                     "which cannot be shown as text",
                              metadata={"status": response.status_code, "content_type": kind})
        text = response.text
        if not response.is_success:
            raise ToolError(f"{self.name} answered HTTP {response.status_code}: {_excerpt(text) or '(no body)'}")
        output = text if len(text) <= MAX_OUTPUT_CHARS else (
            text[:MAX_OUTPUT_CHARS] + f"\n[truncated: {len(text):,} characters in all]")
        return ToolResult(output=output or f"(HTTP {response.status_code}, empty body)",
                          metadata={"status": response.status_code, "content_type": response.content_type})

    def _validate(self, arguments: dict[str, Any]) -> None:
        try:
            validator = jsonschema.Draft202012Validator(self.parameters)
            errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))[:3]
        except jsonschema.SchemaError:
            errors = []  # the owner's schema is not valid JSON Schema: send what the model wrote
        if errors:
            raise ToolError("Invalid arguments: " + "; ".join(
                f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:200]}" for e in errors))
        missing = sorted(self.placeholders - arguments.keys())
        if missing:
            raise ToolError(f"Missing argument(s) for the URL: {', '.join(missing)}")


def _path_value(name: str, arguments: dict[str, Any]) -> str:
    value = arguments[name]
    if isinstance(value, dict | list):
        raise ToolError(f"Argument {name} goes into the URL: it must be a string or a number")
    text = value if isinstance(value, str) else json.dumps(value)
    if text in ("", ".", ".."):
        raise ToolError(f"Argument {name} cannot be empty, '.' or '..'")
    return quote(text, safe="")


def _query_values(name: str, value: Any) -> list[str]:
    if isinstance(value, list):
        return [v if isinstance(v, str) else json.dumps(v) for v in value]
    if isinstance(value, str):
        return [value]
    return [json.dumps(value)]


def _is_text(content_type: str) -> bool:
    return (content_type.startswith("text/") or content_type.endswith(("json", "xml", "+yaml", "/yaml"))
            or content_type in ("application/x-www-form-urlencoded", "application/javascript"))


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[:EXCERPT_CHARS] + "…"


class FunctionToolFactory:
    """``{"type": "function", "name", "description", "parameters", "endpoint"?}`` -> one tool."""

    type = "function"
    builds_offline = True  # from the config alone (tools/registry)

    def __init__(self, guard: OutboundGuard, secrets: SecretBox) -> None:
        self.guard = guard
        self.secrets = secrets

    async def tools_for(self, config: dict[str, Any], context: ToolContext) -> list[Tool]:
        name = str(config["name"])
        description = str(config.get("description") or "")
        parameters = config.get("parameters") or {"type": "object", "properties": {}}
        endpoint = config.get("endpoint")
        if not endpoint:
            return [ClientFunctionTool(name, description, parameters)]
        headers: dict[str, str] = {}
        for header, sealed in (endpoint.get("headers") or {}).items():
            try:
                headers[header] = self.secrets.decrypt(sealed)
            except ValueError as exc:
                raise ToolError(f"The stored value of header {header} of {name} cannot be read (the server "
                                "key changed); the owner must enter it again") from exc
        return [HttpFunctionTool(name, description, parameters, method=str(endpoint.get("method", "GET")).upper(),
                                 url=str(endpoint["url"]), headers=headers,
                                 query=list(endpoint.get("query") or []), guard=self.guard)]
