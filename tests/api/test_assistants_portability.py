"""Duplicate, export and import, and the injectable model-validation hook."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agentcreator.api.deps import model_validator
from agentcreator.core.errors import ValidationFailed
from tests.api.test_assistants import FULL
from tests.api.test_assistants_factories import get_json, make_assistant
from tests.conftest import UserSession

PORTABLE = ("name", "description", "instructions", "model", "tools", "parameters", "max_messages",
            "history_window", "budget_monthly_micros", "budget_monthly_tokens", "summarize_dropped", "tags")


def portable(assistant: dict[str, Any]) -> dict[str, Any]:
    return {key: assistant[key] for key in PORTABLE}


async def test_duplicate_copies_everything_under_a_new_name(client: httpx.AsyncClient,
                                                            alice: UserSession) -> None:
    original = await make_assistant(alice, **FULL)
    response = await client.post(f"/api/assistants/{original['id']}/duplicate", headers=alice.headers)
    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["id"] != original["id"]
    assert copy["name"] == "Research helper (copy)"
    assert {**portable(copy), "name": original["name"]} == portable(original)
    assert (await get_json(client, alice, f"/api/assistants/{original['id']}")) == original
    listing = await get_json(client, alice, "/api/assistants")
    assert [a["id"] for a in listing["data"]] == [copy["id"], original["id"]]


async def test_duplicate_of_a_200_char_name_stays_within_the_limit(client: httpx.AsyncClient,
                                                                   alice: UserSession) -> None:
    original = await make_assistant(alice, name="n" * 200)
    copy = (await client.post(f"/api/assistants/{original['id']}/duplicate", headers=alice.headers)).json()
    assert copy["name"] == "n" * 193 + " (copy)" and len(copy["name"]) == 200


async def test_export_document_and_attachment_header(client: httpx.AsyncClient, alice: UserSession) -> None:
    original = await make_assistant(alice, **FULL)
    response = await client.get(f"/api/assistants/{original['id']}/export", headers=alice.headers)
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Research-helper.assistant.json"')
    assert "filename*=UTF-8''Research%20helper.assistant.json" in disposition
    document = response.json()
    assert set(document) == {"format", "version", "exported_at", "assistant"}
    assert document["format"] == "agentcreator.assistant" and document["version"] == 1
    assert datetime.fromisoformat(document["exported_at"].replace("Z", "+00:00")).tzinfo is not None
    assert document["assistant"] == portable(original)


async def test_export_file_name_of_a_non_ascii_name(client: httpx.AsyncClient, alice: UserSession) -> None:
    original = await make_assistant(alice, name="中文 🧪")
    response = await client.get(f"/api/assistants/{original['id']}/export", headers=alice.headers)
    disposition = response.headers["content-disposition"]
    assert 'filename="assistant.assistant.json"' in disposition
    assert "filename*=UTF-8''%E4%B8%AD%E6%96%87%20%F0%9F%A7%AA.assistant.json" in disposition


async def test_export_then_import_round_trips(client: httpx.AsyncClient, alice: UserSession) -> None:
    helper = await make_assistant(alice, name="Sub")
    original = await make_assistant(alice, **{**FULL, "tools": [
        *FULL["tools"], {"type": "assistant", "assistant_id": helper["id"], "mode": "handoff"}]})
    document = (await client.get(f"/api/assistants/{original['id']}/export", headers=alice.headers)).json()
    response = await client.post("/api/assistants/import", json=document, headers=alice.headers)
    assert response.status_code == 201, response.text
    imported = response.json()
    assert imported["id"] != original["id"]
    assert portable(imported) == portable(original)
    assert (await get_json(client, alice, f"/api/assistants/{imported['id']}")) == imported
    assert (await get_json(client, alice, "/api/assistants"))["count"] == 3


async def test_import_without_exported_at_and_with_defaults(client: httpx.AsyncClient, alice: UserSession) -> None:
    response = await client.post("/api/assistants/import", headers=alice.headers, json={
        "format": "agentcreator.assistant", "version": 1, "assistant": {"name": "Hand written"}})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Hand written" and body["max_messages"] == 50 and body["history_window"] == 20


async def test_import_of_an_assistant_tool_from_another_account_is_422(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession) -> None:
    helper = await make_assistant(alice, name="Sub")
    original = await make_assistant(alice, tools=[{"type": "assistant", "assistant_id": helper["id"]}])
    document = (await client.get(f"/api/assistants/{original['id']}/export", headers=alice.headers)).json()
    response = await client.post("/api/assistants/import", json=document, headers=bob.headers)
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "tools.0.assistant_id: Assistant not found"
    assert (await get_json(client, bob, "/api/assistants"))["count"] == 0


VALID_DOC = {"format": "agentcreator.assistant", "version": 1, "exported_at": "2026-01-01T00:00:00Z",
             "assistant": {"name": "Imported"}}


@pytest.mark.parametrize(("change", "message"), [
    ({"format": "other.thing"}, "format: unsupported export format 'other.thing'; expected 'agentcreator.assistant'"),
    ({"version": 2}, "version: unsupported export version 2; this server reads version 1"),
    ({"version": 0}, "version: unsupported export version 0; this server reads version 1"),
    ({"format": None}, "format: Input should be a valid string"),
    ({"assistant": None}, None),
    ({"assistant": {"name": "x", "owner_id": "0" * 32}}, "assistant.owner_id: Extra inputs are not permitted"),
    ({"assistant": {"name": "x", "tools": [{"type": "teleport"}]}}, None),
    ({"assistant": {"name": ""}}, None),
    ({"owner_id": "0" * 32}, "owner_id: Extra inputs are not permitted"),
])
async def test_import_refuses_unknown_or_invalid_documents(client: httpx.AsyncClient, alice: UserSession,
                                                           change: dict[str, Any], message: str | None) -> None:
    response = await client.post("/api/assistants/import", json={**VALID_DOC, **change}, headers=alice.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    if message is not None:
        assert error["message"] == message
    assert (await get_json(client, alice, "/api/assistants"))["count"] == 0


@pytest.mark.parametrize("missing", ["format", "version", "assistant"])
async def test_import_requires_format_version_and_assistant(client: httpx.AsyncClient, alice: UserSession,
                                                            missing: str) -> None:
    document = {k: v for k, v in VALID_DOC.items() if k != missing}
    response = await client.post("/api/assistants/import", json=document, headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["body", missing]


@pytest.fixture
def strict_models(app: FastAPI) -> Iterator[list[str]]:
    """Install a model-validation hook that knows two models; record what it was asked."""
    asked: list[str] = []

    async def validate(model: str) -> None:
        asked.append(model)
        if model not in {"local/smollm2-135m-instruct", "openai/gpt-4.1-mini"}:
            raise ValidationFailed(f"model: unknown model {model!r}", code="unknown_model")

    app.dependency_overrides[model_validator] = lambda: validate
    try:
        yield asked
    finally:
        del app.dependency_overrides[model_validator]


async def test_model_validation_hook_guards_create_update_and_import(
        client: httpx.AsyncClient, alice: UserSession, strict_models: list[str]) -> None:
    refused = await client.post("/api/assistants", json={"name": "A", "model": "openai/nope"}, headers=alice.headers)
    assert refused.status_code == 422
    assert refused.json()["error"] == {"code": "unknown_model", "message": "model: unknown model 'openai/nope'"}
    created = await make_assistant(alice, name="A")
    assert strict_models == ["openai/nope", "local/smollm2-135m-instruct"]
    patched = await client.patch(f"/api/assistants/{created['id']}", json={"model": "vllm/mystery"},
                                 headers=alice.headers)
    assert patched.status_code == 422
    renamed = await client.patch(f"/api/assistants/{created['id']}", json={"name": "B"}, headers=alice.headers)
    assert renamed.status_code == 200 and renamed.json()["model"] == "local/smollm2-135m-instruct"
    imported = await client.post("/api/assistants/import", headers=alice.headers, json={
        **VALID_DOC, "assistant": {"name": "I", "model": "ollama/llama3"}})
    assert imported.status_code == 422
    assert strict_models == ["openai/nope", "local/smollm2-135m-instruct", "vllm/mystery", "ollama/llama3"]
    assert (await get_json(client, alice, "/api/assistants"))["count"] == 1
