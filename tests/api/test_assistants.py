"""Assistants API: create/read/update/delete and validation. Listing, duplicate, export and import are
in test_assistants_listing.py and test_assistants_portability.py."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from agentcreator.state import AppState
from tests.api.test_assistants_factories import get_json, make_assistant
from tests.conftest import UserSession

FULL = {
    "name": "Research helper",
    "description": "Finds things",
    "instructions": "Be precise.\nCite sources.",
    "model": "openai/gpt-4.1-mini",
    "tools": [
        {"type": "file_search", "knowledge_base_ids": [], "top_k": 5, "threshold": None},
        {"type": "code_interpreter"},
        {"type": "web_search"},
        {"type": "function", "name": "get_weather", "description": "Weather for a city",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    ],
    "parameters": {"temperature": 0.3, "top_p": 0.9, "max_output_tokens": 1024},
    "max_messages": 120,
    "history_window": 30,
    "tags": ["research", "work"],
}
PUBLIC_KEYS = {"id", "name", "description", "instructions", "model", "tools", "parameters", "max_messages",
               "history_window", "budget_monthly_micros", "budget_monthly_tokens", "summarize_dropped", "tags",
               "created_at",
               "updated_at"}


async def test_create_minimal_applies_platform_defaults(client: httpx.AsyncClient, alice: UserSession,
                                                        app_state: AppState) -> None:
    response = await client.post("/api/assistants", json={"name": "  Minimal  "}, headers=alice.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == PUBLIC_KEYS
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
    assert body["name"] == "Minimal"
    assert body["description"] == "" and body["instructions"] == ""
    assert body["model"] == app_state.settings.llm.default_model == "local/smollm2-135m-instruct"
    assert body["tools"] == [] and body["tags"] == []
    assert body["parameters"] == {"temperature": None, "top_p": None, "max_output_tokens": None}
    assert body["max_messages"] == app_state.settings.limits.default_max_messages == 50
    assert body["history_window"] == app_state.settings.limits.default_history_window == 20


async def test_create_full_then_get_returns_the_same(client: httpx.AsyncClient, alice: UserSession) -> None:
    created = await make_assistant(alice, **FULL)
    assert {key: created[key] for key in FULL} == FULL
    fetched = await get_json(client, alice, f"/api/assistants/{created['id']}")
    assert fetched == created


async def test_tool_defaults_and_tag_normalisation(client: httpx.AsyncClient, alice: UserSession) -> None:
    created = await make_assistant(alice, tools=[{"type": "function", "name": "ping"}],
                                   tags=["x", " x ", "y", "x"])
    assert created["tools"] == [{"type": "function", "name": "ping", "description": "",
                                 "parameters": {"type": "object", "properties": {}}}]
    assert created["tags"] == ["x", "y"]


async def test_assistant_tool_must_name_one_of_your_assistants(client: httpx.AsyncClient,
                                                               alice: UserSession) -> None:
    helper = await make_assistant(alice, name="Sub")
    boss = await make_assistant(alice, name="Boss", tools=[
        {"type": "assistant", "assistant_id": helper["id"], "mode": "handoff"},
        {"type": "assistant", "assistant_id": helper["id"]}])
    assert boss["tools"] == [{"type": "assistant", "assistant_id": helper["id"], "mode": "handoff"},
                             {"type": "assistant", "assistant_id": helper["id"], "mode": "call"}]
    response = await client.post("/api/assistants", headers=alice.headers, json={
        "name": "Dangling", "tools": [{"type": "web_search"}, {"type": "assistant", "assistant_id": "f" * 32}]})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "tools.1.assistant_id: Assistant not found"
    response = await client.patch(f"/api/assistants/{boss['id']}", headers=alice.headers,
                                  json={"tools": [{"type": "assistant", "assistant_id": boss["id"]}]})
    assert response.status_code == 422
    assert "cannot call itself" in response.json()["error"]["message"]
    assert (await get_json(client, alice, f"/api/assistants/{boss['id']}")) == boss


async def test_patch_changes_only_the_fields_sent(client: httpx.AsyncClient, alice: UserSession) -> None:
    created = await make_assistant(alice, **FULL)
    response = await client.patch(f"/api/assistants/{created['id']}", headers=alice.headers,
                                  json={"name": " Renamed ", "parameters": {"temperature": 1.5}, "tags": []})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "Renamed"
    assert updated["parameters"] == {"temperature": 1.5, "top_p": None, "max_output_tokens": None}
    assert updated["tags"] == []
    assert updated["updated_at"] >= created["updated_at"]
    unchanged = {k: v for k, v in created.items() if k not in {"name", "parameters", "tags", "updated_at"}}
    assert {k: updated[k] for k in unchanged} == unchanged
    assert (await get_json(client, alice, f"/api/assistants/{created['id']}")) == updated


async def test_patch_empty_body_changes_nothing(client: httpx.AsyncClient, alice: UserSession) -> None:
    created = await make_assistant(alice, **FULL)
    response = await client.patch(f"/api/assistants/{created['id']}", headers=alice.headers, json={})
    assert response.status_code == 200
    assert response.json() == created


@pytest.mark.parametrize("body", [
    {"name": None}, {"tools": None}, {"parameters": None}, {"max_messages": None}, {"model": None},
    {"name": ""}, {"temperature": 1}, {"owner_id": "x"}, {"id": "0" * 32}, {"created_at": "2020-01-01T00:00:00Z"},
    {"parameters": {"temperature": 3}}, {"history_window": 0},
])
async def test_patch_invalid_is_422_and_changes_nothing(client: httpx.AsyncClient, alice: UserSession,
                                                        body: dict[str, Any]) -> None:
    created = await make_assistant(alice, **FULL)
    response = await client.patch(f"/api/assistants/{created['id']}", headers=alice.headers, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert (await get_json(client, alice, f"/api/assistants/{created['id']}")) == created


async def test_delete_is_204_then_not_found(client: httpx.AsyncClient, alice: UserSession) -> None:
    keep = await make_assistant(alice, name="Keep")
    gone = await make_assistant(alice, name="Gone")
    response = await client.delete(f"/api/assistants/{gone['id']}", headers=alice.headers)
    assert response.status_code == 204 and response.content == b""
    for method in ("GET", "DELETE", "PATCH"):
        again = await client.request(method, f"/api/assistants/{gone['id']}", headers=alice.headers,
                                     json={} if method == "PATCH" else None)
        assert again.status_code == 404
        assert again.json()["error"] == {"code": "not_found", "message": "Assistant not found"}
    listing = await get_json(client, alice, "/api/assistants")
    assert [a["id"] for a in listing["data"]] == [keep["id"]] and listing["count"] == 1


@pytest.mark.parametrize("path", ["nope", "f" * 32, "0" * 31, "0" * 33, "a%00b", "%F0%9F%A7%AA", "%25", "_" * 32])
async def test_malformed_or_unknown_ids_are_404(client: httpx.AsyncClient, alice: UserSession, path: str) -> None:
    await make_assistant(alice)
    response = await client.get(f"/api/assistants/{path}", headers=alice.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_uppercase_or_padded_id_is_not_the_assistant(client: httpx.AsyncClient, alice: UserSession) -> None:
    """MySQL would match these case- and pad-insensitively; the API answers the same on every database."""
    created = await make_assistant(alice)
    for variant in (created["id"].upper(), created["id"] + " ", created["id"] + "%20"):
        response = await client.get(f"/api/assistants/{variant}", headers=alice.headers)
        assert response.status_code == 404, variant


LONG = "x" * 201
INVALID_CREATE: list[tuple[str, dict[str, Any]]] = [
    ("missing name", {}),
    ("empty name", {"name": ""}),
    ("blank name", {"name": "   "}),
    ("name too long", {"name": LONG}),
    ("name not a string", {"name": 123}),
    ("name a list", {"name": ["a"]}),
    ("description too long", {"description": "d" * 2001}),
    ("instructions too long", {"instructions": "i" * 100_001}),
    ("model without provider", {"model": "smollm"}),
    ("model with space in provider", {"model": "my provider/x"}),
    ("model with newline", {"model": "local/x\ny"}),
    ("model with NUL", {"model": "local/x\x00"}),
    ("model not a string", {"model": 5}),
    ("temperature too high", {"parameters": {"temperature": 2.01}}),
    ("temperature negative", {"parameters": {"temperature": -0.1}}),
    ("temperature a word", {"parameters": {"temperature": "hot"}}),
    ("top_p too high", {"parameters": {"top_p": 1.5}}),
    ("max_output_tokens zero", {"parameters": {"max_output_tokens": 0}}),
    ("max_output_tokens too high", {"parameters": {"max_output_tokens": 200_001}}),
    ("unknown parameter", {"parameters": {"seed": 1}}),
    ("max_messages below 2", {"max_messages": 1}),
    ("max_messages above 10000", {"max_messages": 10_001}),
    ("max_messages a word", {"max_messages": "many"}),
    ("history_window zero", {"history_window": 0}),
    ("history_window above 1000", {"history_window": 1001}),
    ("unknown tool type", {"tools": [{"type": "browser"}]}),
    ("tool without type", {"tools": [{"name": "f"}]}),
    ("tool not an object", {"tools": ["web_search"]}),
    ("extra field on a tool", {"tools": [{"type": "web_search", "depth": 3}]}),
    ("function name with space", {"tools": [{"type": "function", "name": "get weather"}]}),
    ("function name too long", {"tools": [{"type": "function", "name": "f" * 65}]}),
    ("function name empty", {"tools": [{"type": "function", "name": ""}]}),
    ("function without name", {"tools": [{"type": "function"}]}),
    ("duplicate function names", {"tools": [{"type": "function", "name": "f"}, {"type": "function", "name": "f"}]}),
    ("function parameters not an object schema", {"tools": [{"type": "function", "name": "f",
                                                              "parameters": {"type": "string"}}]}),
    ("function parameters a list", {"tools": [{"type": "function", "name": "f", "parameters": []}]}),
    ("assistant tool bad mode", {"tools": [{"type": "assistant", "assistant_id": "a" * 32, "mode": "fork"}]}),
    ("assistant tool without id", {"tools": [{"type": "assistant"}]}),
    ("33 tools", {"tools": [{"type": "function", "name": f"f{i}"} for i in range(33)]}),
    ("tools not a list", {"tools": {"type": "web_search"}}),
    ("21 tags", {"tags": [f"t{i}" for i in range(21)]}),
    ("empty tag", {"tags": [""]}),
    ("blank tag", {"tags": ["  "]}),
    ("tag too long", {"tags": ["t" * 51]}),
    ("tag not a string", {"tags": [1]}),
    ("unknown field owner_id", {"owner_id": "0" * 32}),
    ("unknown field id", {"id": "0" * 32}),
    ("unknown field created_at", {"created_at": "2020-01-01T00:00:00Z"}),
]


@pytest.mark.parametrize(("case", "body"), INVALID_CREATE, ids=[c for c, _ in INVALID_CREATE])
async def test_create_invalid_is_422_and_creates_nothing(client: httpx.AsyncClient, alice: UserSession,
                                                         case: str, body: dict[str, Any]) -> None:
    payload = body if "name" in body or not body else {"name": "A", **body}
    response = await client.post("/api/assistants", json=payload, headers=alice.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] and error["details"]
    assert (await get_json(client, alice, "/api/assistants"))["count"] == 0


async def test_duplicate_function_names_message_names_them(client: httpx.AsyncClient, alice: UserSession) -> None:
    response = await client.post("/api/assistants", headers=alice.headers, json={"name": "A", "tools": [
        {"type": "function", "name": "lookup"}, {"type": "web_search"}, {"type": "function", "name": "lookup"}]})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "tools: duplicate function tool names: lookup"


async def test_unknown_field_is_named_in_the_error(client: httpx.AsyncClient, alice: UserSession) -> None:
    response = await client.post("/api/assistants", headers=alice.headers,
                                 json={"name": "A", "owner_id": alice.id})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"][0]["loc"] == ["body", "owner_id"]
    assert error["details"][0]["type"] == "extra_forbidden"


@pytest.mark.parametrize("content", [b'{"name": "A"', b"not json", b"", b'["name"]', b'"A"', b"null"])
async def test_malformed_or_non_object_json_is_422(client: httpx.AsyncClient, alice: UserSession,
                                                   content: bytes) -> None:
    response = await client.post("/api/assistants", content=content,
                                 headers={**alice.headers, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert (await get_json(client, alice, "/api/assistants"))["count"] == 0


async def test_truncated_json_says_malformed(client: httpx.AsyncClient, alice: UserSession) -> None:
    response = await client.post("/api/assistants", content=b'{"name": ',
                                 headers={**alice.headers, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "Malformed JSON body"


async def test_limits_at_their_bounds_are_accepted(client: httpx.AsyncClient, alice: UserSession) -> None:
    created = await make_assistant(
        alice, name="n" * 200, description="d" * 2000, instructions="i" * 100_000,
        parameters={"temperature": 2, "top_p": 0, "max_output_tokens": 200_000},
        max_messages=10_000, history_window=1000, tags=[f"t{i:02}" + "x" * 47 for i in range(20)],
        tools=[{"type": "function", "name": "f" * 64}] + [{"type": "function", "name": f"g{i}"} for i in range(31)])
    assert len(created["name"]) == 200 and len(created["instructions"]) == 100_000
    assert len(created["tools"]) == 32 and len(created["tags"]) == 20
    assert created["parameters"] == {"temperature": 2.0, "top_p": 0.0, "max_output_tokens": 200_000}
    assert (await get_json(client, alice, f"/api/assistants/{created['id']}")) == created
