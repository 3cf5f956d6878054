"""The OpenAPI document, with the stream-event union added as ``TurnEvent`` (and ``MessagePart``), so the
web app's TypeScript types for streams are generated like the rest of the API client."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter

from agentcreator.chat.events import TurnEvent
from agentcreator.chat.parts import MessagePart

REF = "#/components/schemas/{model}"


def install_openapi(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = build()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, kind in (("TurnEvent", TurnEvent), ("MessagePart", MessagePart)):
            schema = TypeAdapter(kind).json_schema(ref_template=REF, mode="validation")
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas.setdefault(def_name, definition)
            schemas[name] = schema
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
