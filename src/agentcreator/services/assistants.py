"""Assistant use cases for one owner: list, create, update, delete, duplicate, export and import.

The service owns the transaction (it commits); inputs arrive already validated by the API schemas,
as plain dicts. Platform defaults (model, message cap, history window) come from the settings. The model reference
is checked by an injectable ``validate_model`` hook (None for now: only the ``provider/model`` shape
is checked, by the schema)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.core.config import Settings
from agentcreator.core.errors import NotFound, ValidationFailed
from agentcreator.core.security import SecretBox
from agentcreator.db.models import Assistant
from agentcreator.db.types import utcnow
from agentcreator.repositories import assistants as assistant_repo
from agentcreator.repositories import knowledge as knowledge_repo
from agentcreator.services.function_secrets import mask_tools, refuse_blocked_endpoints, seal_tools
from agentcreator.services.mcp_servers import check_assistant_tools as check_mcp_tools
from agentcreator.tools.openapi_import import functions_from_openapi

EXPORT_FORMAT = "agentcreator.assistant"
EXPORT_VERSION = 1
COPY_SUFFIX = " (copy)"
NAME_MAX = 200
# What an export document carries, and what duplicate copies.
PORTABLE_FIELDS = ("name", "description", "instructions", "model", "tools", "parameters",
                   "max_messages", "history_window", "budget_monthly_micros", "budget_monthly_tokens",
                   "summarize_dropped", "tags")

ModelValidator = Callable[[str], Awaitable[None]]
"""Raises an AppError (e.g. ValidationFailed) when the model is unknown or unavailable."""


class AssistantService:
    def __init__(self, session: AsyncSession, owner_id: str, settings: Settings,
                 validate_model: ModelValidator | None = None, secrets: SecretBox | None = None) -> None:
        self.session = session
        self.owner_id = owner_id
        self.settings = settings
        self.validate_model = validate_model
        # Encrypts the header values of HTTP function tools (services/function_secrets.py).
        self.secrets = secrets

    async def list(self, *, q: str | None = None, tag: str | None = None, limit: int = 50,
                   offset: int = 0) -> tuple[list[Assistant], int]:
        return await assistant_repo.list_owned(self.session, self.owner_id, q=q, tag=tag,
                                               limit=limit, offset=offset)

    async def create(self, fields: dict[str, Any]) -> Assistant:
        values = self._with_defaults(fields)
        await self._check_model(values["model"])
        await self._check_tools(values["tools"], self_id=None)
        values["tools"] = seal_tools(values["tools"], None, self.secrets)
        assistant = await assistant_repo.add(self.session, Assistant(owner_id=self.owner_id, **values))
        await self.session.commit()
        return assistant

    async def update(self, assistant: Assistant, changes: dict[str, Any]) -> Assistant:
        self._check_owner(assistant)
        unknown = set(changes) - set(PORTABLE_FIELDS)
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        if "model" in changes and changes["model"] != assistant.model:
            await self._check_model(changes["model"])
        if "tools" in changes:
            await self._check_tools(changes["tools"], self_id=assistant.id)
            changes = {**changes, "tools": seal_tools(changes["tools"], assistant.tools, self.secrets)}
        for key, value in changes.items():
            setattr(assistant, key, value)
        await self.session.flush()
        await self.session.commit()
        return assistant

    async def delete(self, assistant: Assistant) -> None:
        """Delete the assistant; its conversations stay (``assistant_id`` becomes NULL)."""
        self._check_owner(assistant)
        if not await assistant_repo.delete_owned(self.session, self.owner_id, assistant.id):
            raise NotFound("Assistant")
        await self.session.commit()

    async def duplicate(self, assistant: Assistant) -> Assistant:
        """A copy named "<name> (copy)"; the model is not re-validated (it is the original's)."""
        self._check_owner(assistant)
        values = {key: _copy(getattr(assistant, key)) for key in PORTABLE_FIELDS}
        values["name"] = values["name"][: NAME_MAX - len(COPY_SUFFIX)] + COPY_SUFFIX
        copy = await assistant_repo.add(self.session, Assistant(owner_id=self.owner_id, **values))
        await self.session.commit()
        return copy

    def export(self, assistant: Assistant, *, now: datetime | None = None) -> dict[str, Any]:
        """The portable export document (no ids, owner or timestamps of the assistant, and no
        secrets: function header values are masked)."""
        self._check_owner(assistant)
        document = {key: _copy(getattr(assistant, key)) for key in PORTABLE_FIELDS}
        document["tools"] = mask_tools(document["tools"])
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_at": now or utcnow(),
            "assistant": document,
        }

    async def import_document(self, assistant: dict[str, Any]) -> Assistant:
        """Create an assistant from the ``assistant`` part of a validated export document."""
        return await self.create(assistant)

    def _with_defaults(self, fields: dict[str, Any]) -> dict[str, Any]:
        values = {key: fields[key] for key in PORTABLE_FIELDS if key in fields}
        values.setdefault("description", "")
        values.setdefault("instructions", "")
        values.setdefault("tools", [])
        values.setdefault("parameters", {})
        values.setdefault("tags", [])
        defaults = {"model": self.settings.llm.default_model,
                    "max_messages": self.settings.limits.default_max_messages,
                    "history_window": self.settings.limits.default_history_window}
        for key, default in defaults.items():
            if values.get(key) is None:
                values[key] = default
        return values

    def _check_owner(self, assistant: Assistant) -> None:
        if assistant.owner_id != self.owner_id:
            raise NotFound("Assistant")

    async def _check_model(self, model: str) -> None:
        if self.validate_model is not None:
            await self.validate_model(model)

    async def _check_tools(self, tools: list[dict[str, Any]], *, self_id: str | None) -> None:
        """Function endpoints must not name a blocked address; assistant tools must name another
        assistant of the same owner; MCP tools an enabled server; file_search tools the owner's knowledge bases."""
        refuse_blocked_endpoints(tools, self.settings.outbound.allow_hosts)
        await check_mcp_tools(self.session, tools)
        await self._check_knowledge_bases(tools)
        self._check_vector_stores(tools)
        refs = [(i, t["assistant_id"]) for i, t in enumerate(tools) if t.get("type") == "assistant"]
        if not refs:
            return
        owned = await assistant_repo.owned_ids(self.session, self.owner_id, [ref for _, ref in refs])
        for index, ref in refs:
            if ref == self_id:
                raise ValidationFailed(f"tools.{index}.assistant_id: an assistant cannot call itself",
                                       details=[{"loc": ["body", "tools", index, "assistant_id"],
                                                 "msg": "an assistant cannot call itself",
                                                 "type": "self_reference"}])
            if ref not in owned:
                raise ValidationFailed(f"tools.{index}.assistant_id: Assistant not found",
                                       details=[{"loc": ["body", "tools", index, "assistant_id"],
                                                 "msg": "Assistant not found", "type": "not_found"}])

    def _check_vector_stores(self, tools: list[dict[str, Any]]) -> None:
        """Hosted file search reaches only the provider's vector stores the admin shares
        (HOSTED_TOOLS__VECTOR_STORE_IDS): any other id is refused as not found."""
        shared = set(self.settings.hosted_tools.vector_store_ids)
        for index, tool in enumerate(tools):
            if tool.get("type") != "file_search":
                continue
            for position, ref in enumerate(tool.get("vector_store_ids") or []):
                if ref not in shared:
                    raise ValidationFailed(f"tools.{index}.vector_store_ids.{position}: Vector store not found",
                                           details=[{"loc": ["body", "tools", index, "vector_store_ids", position],
                                                     "msg": "Vector store not found", "type": "not_found"}])

    async def _check_knowledge_bases(self, tools: list[dict[str, Any]]) -> None:
        refs = [(i, n, ref) for i, t in enumerate(tools) if t.get("type") == "file_search"
                for n, ref in enumerate(t.get("knowledge_base_ids") or [])]
        if not refs:
            return
        owned = await knowledge_repo.owned_base_ids(self.session, self.owner_id, [ref for _, _, ref in refs])
        for index, position, ref in refs:
            if ref not in owned:
                raise ValidationFailed(f"tools.{index}.knowledge_base_ids.{position}: Knowledge base not found",
                                       details=[{"loc": ["body", "tools", index, "knowledge_base_ids", position],
                                                 "msg": "Knowledge base not found", "type": "not_found"}])


async def import_openapi_functions(document: str, base_url: str | None,
                                   ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Function tool configs from an OpenAPI 3 document (parsed in a worker thread: it is CPU work)."""
    return await asyncio.to_thread(functions_from_openapi, document, base_url)


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like values, so a copy never shares mutable state with the original."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value
