"""Admin providers (keys encrypted, never returned), the model list, and model checks on assistants."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from agentcreator.db.models import Provider
from agentcreator.state import AppState
from tests.conftest import UserSession
from tests.llm.openai_double import HttpError, OpenAIDouble


async def test_models_lists_every_provider_with_capabilities(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    response = await client.get("/api/models", headers=alice.headers)
    assert response.status_code == 200
    body = response.json()
    ids = {m["id"] for m in body["data"]}
    assert {"openai/gpt-4o-mini", "double/gpt-4o-mini"} <= ids
    gpt4o = next(m for m in body["data"] if m["id"] == "openai/gpt-4o")
    assert gpt4o["vision"] is True and gpt4o["tools"] is True and gpt4o["context_length"] >= 128_000
    assert body["default_model"] == "local/smollm2-135m-instruct"
    assert (await client.get("/api/models")).status_code == 401


async def test_admin_adds_a_provider_whose_key_is_encrypted_and_never_returned(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    created = await client.post("/api/admin/providers", headers=alice.headers, json={
        "name": "lab", "kind": "openai_compatible", "base_url": openai_double.base_url + "/", "allow_private_network": True,
        "api_key": "sk-very-secret", "models": [{"name": "gpt-4o-mini", "context_length": 32000}]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["has_api_key"] is True and "sk-very-secret" not in created.text
    assert body["base_url"] == openai_double.base_url  # trailing slash trimmed
    async with app_state.sessions() as session:
        row = (await session.execute(select(Provider).where(Provider.name == "lab"))).scalar_one()
    assert row.api_key_encrypted and "sk-very-secret" not in row.api_key_encrypted
    listed = await client.get("/api/admin/providers", headers=alice.headers)
    assert "sk-very-secret" not in listed.text
    assert {p["name"]: p["source"] for p in listed.json()}["lab"] == "admin"
    models = (await client.get("/api/models", headers=alice.headers)).json()["data"]
    lab = next(m for m in models if m["id"] == "lab/gpt-4o-mini")
    assert lab["context_length"] == 32000
    test = await client.post(f"/api/admin/providers/{body['id']}/test", headers=alice.headers)
    assert test.json()["ok"] is True and test.json()["models"] >= 1
    assert openai_double.last_request.headers["authorization"] == "Bearer sk-very-secret"
    openai_double.models_error = HttpError(401, "bad key", type="invalid_request_error", code="invalid_api_key")
    failing = await client.post(f"/api/admin/providers/{body['id']}/test", headers=alice.headers)
    assert failing.json()["ok"] is False and failing.json()["error"]["code"] == "provider_auth"
    removed = await client.delete(f"/api/admin/providers/{body['id']}", headers=alice.headers)
    assert removed.status_code == 204
    models_after = (await client.get("/api/models", headers=alice.headers)).json()["data"]
    assert not any(m["provider"] == "lab" for m in models_after)


async def test_provider_names_are_unique_and_validated(client: httpx.AsyncClient, alice: UserSession) -> None:
    taken = await client.post("/api/admin/providers", headers=alice.headers,
                              json={"name": "openai", "kind": "openai"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "provider_exists"
    for bad in ({"name": "Bad Name", "kind": "openai"}, {"name": "x", "kind": "local"},
                {"name": "y", "kind": "openai_compatible", "base_url": "ftp://host"}):
        assert (await client.post("/api/admin/providers", headers=alice.headers, json=bad)).status_code == 422


async def test_providers_are_admin_only(client: httpx.AsyncClient, alice: UserSession, bob: UserSession) -> None:
    created = await client.post("/api/admin/providers", headers=alice.headers, json={
        "name": "mine", "kind": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
        "allow_private_network": True})
    provider_id = created.json()["id"]
    for method, path, body in (("GET", "", None), ("POST", "", {"name": "b", "kind": "openai"}),
                               ("PATCH", f"/{provider_id}", {"enabled": False}),
                               ("DELETE", f"/{provider_id}", None), ("POST", f"/{provider_id}/test", None)):
        response = await client.request(method, "/api/admin/providers" + path, headers=bob.headers, json=body)
        assert response.status_code == 403, (method, path)
    listed = await client.get("/api/admin/providers", headers=alice.headers)
    mine = next(p for p in listed.json() if p["name"] == "mine")
    assert mine["enabled"] is True


async def test_an_assistant_with_an_unknown_model_is_refused_when_saved_and_when_used(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    refused = await client.post("/api/assistants", headers=alice.headers,
                                json={"name": "X", "model": "nowhere/gpt-9"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "model_unavailable"
    assert "nowhere" in refused.json()["error"]["message"]
    ok = await client.post("/api/assistants", headers=alice.headers, json={"name": "Y", "model": "lab2/gpt-4o-mini"})
    assert ok.status_code == 422  # provider lab2 does not exist yet
    created = await client.post("/api/admin/providers", headers=alice.headers, json={
        "name": "lab2", "kind": "openai_compatible", "base_url": openai_double.base_url,
        "allow_private_network": True})
    assistant = await client.post("/api/assistants", headers=alice.headers,
                                  json={"name": "Y", "model": "lab2/gpt-4o-mini"})
    assert assistant.status_code == 201, assistant.text
    conversation = (await client.post("/api/conversations", headers=alice.headers,
                                      json={"assistant_id": assistant.json()["id"]})).json()
    await client.delete(f"/api/admin/providers/{created.json()['id']}", headers=alice.headers)
    used = await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                             json={"content": "hi"})
    assert used.status_code == 422
    assert used.json()["error"]["code"] == "model_unavailable"
    listing = await client.get(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers)
    assert listing.json()["count"] == 0


async def test_an_openai_compatible_provider_without_base_url_is_refused(client: httpx.AsyncClient,
                                                                        alice: UserSession) -> None:
    """Found by the fuzzing test: it was saved, then broke every reload of the providers (a 500)."""
    refused = await client.post("/api/admin/providers", headers=alice.headers,
                                json={"name": "nourl", "kind": "openai_compatible"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "base_url_required"
    listed = (await client.get("/api/admin/providers", headers=alice.headers)).json()
    assert "nourl" not in {p["name"] for p in listed}
    created = await client.post("/api/admin/providers", headers=alice.headers, json={
        "name": "withurl", "kind": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
        "allow_private_network": True})
    assert created.status_code == 201
    cleared = await client.patch(f"/api/admin/providers/{created.json()['id']}", headers=alice.headers,
                                 json={"base_url": None})
    assert cleared.status_code == 422
    listed = (await client.get("/api/admin/providers", headers=alice.headers)).json()
    assert {p["name"]: p["base_url"] for p in listed}["withurl"] == "http://127.0.0.1:9/v1"
    assert (await client.get("/api/models", headers=alice.headers)).status_code == 200
