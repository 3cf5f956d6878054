"""The error responses each operation can give, declared in the OpenAPI document (the fuzzing test
checks that the server answers nothing undeclared). Rules by route kind, plus the few codes that only
some operations give, by operation id. Every error has the body ``{"error": {code, message, details?}}``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

ERROR_BODY = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}},
}
_DESCRIPTIONS = {
    400: "Bad request", 401: "Not signed in, or the token is invalid, expired or revoked",
    402: "A budget would be exceeded; nothing was spent", 403: "Not allowed (administrators only, or closed)",
    404: "Not found (or owned by someone else)", 409: "Conflicts with the current state", 413: "Body too large",
    415: "The file's type is not accepted", 422: "Invalid input", 429: "Too many requests; see Retry-After",
    503: "Unavailable",
}
# Public operations (no token needed).
_PUBLIC = {"auth_options", "auth_register", "auth_login", "auth_refresh", "health_live", "health_ready"}
_TURNS = {"chat_send", "chat_regenerate", "chat_edit", "chat_submit_tool_outputs"}
# Codes only some operations give.
_EXTRA: dict[str, set[int]] = {
    "auth_register": {403, 429},
    "auth_login": {401, 403, 429},
    "auth_refresh": {401, 403},
    "auth_change_password": {400, 429},
    # send and edit: an image URL to a blocked destination (400) or not an image (415).
    "chat_send": {400, 402, 409, 415, 429},
    "chat_regenerate": {402, 409, 429},
    "chat_edit": {400, 402, 409, 415, 429},
    "chat_submit_tool_outputs": {402, 409, 429},
    "chat_events": {400},
    "admin_update_user": {400},
    "admin_approve_user": {409},
    "admin_decline_user": {409},
    "admin_create_provider": {409},
    "admin_update_provider": {409},
    "usage_report": {403},
    "usage_export_csv": {403},
    "health_ready": {503},
    "admin_get_prices": {404},
    "conversations_create": {404},
    "files_upload": {400, 415, 429},
    "knowledge_documents_upload": {400, 415, 429},
}


def error_codes(route: APIRoute) -> set[int]:
    operation = route.operation_id or ""
    codes = set(_EXTRA.get(operation, ()))
    if not route.path.startswith("/api/"):
        return codes
    if operation not in _PUBLIC:
        codes.add(401)
    if route.path.startswith("/api/admin/"):
        codes.add(403)
    if "{" in route.path:
        codes.add(404)
    if route.methods & {"POST", "PUT", "PATCH"}:
        codes |= {413, 422}
    if route.dependant.query_params or route.dependant.path_params or route.dependant.header_params:
        codes.add(422)
    return codes


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI's wrapper of an included router
        if included is not None:
            yield from _api_routes(included.routes)


def declare_error_responses(app: FastAPI) -> None:
    """Add the error responses to every operation of ``app`` (before its OpenAPI document is built)."""
    for route in _api_routes(app.routes):
        if not route.include_in_schema:
            continue
        for code in sorted(error_codes(route)):
            route.responses.setdefault(code, {
                "description": _DESCRIPTIONS[code], "content": {"application/json": {"schema": ERROR_BODY}}})
