"""A provider restricted to some users: its model ids are listed, accepted and used only for
administrators and those users; to everyone else it reads as a provider that is not configured."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.billing_helpers import chat_calls
from tests.api.chat_helpers import messages, send
from tests.conftest import UserSession, register
from tests.llm.openai_double import OpenAIDouble


async def _lab(client: httpx.AsyncClient, admin: UserSession, double: OpenAIDouble,
               allowed: list[str] | None) -> dict[str, Any]:
    created = await client.post("/api/admin/providers", headers=admin.headers, json={
        "name": "lab", "kind": "openai_compatible", "base_url": double.base_url, "allow_private_network": True,
        "models": [{"name": "gpt-4o-mini"}], "allowed_user_ids": allowed})
    assert created.status_code == 201, created.text
    return dict(created.json())


async def _model_ids(client: httpx.AsyncClient, user: UserSession) -> set[str]:
    body = (await client.get("/api/models", headers=user.headers)).json()
    return {m["id"] for m in body["data"]} | {f"{name}/*" for name in body["unavailable"]}


async def test_only_allowed_users_and_administrators_see_the_models(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    carol = await register(client, "carol@example.com", "Carol")
    lab = await _lab(client, alice, openai_double, [carol.id])
    assert lab["allowed_user_ids"] == [carol.id]
    assert "lab/gpt-4o-mini" in await _model_ids(client, alice)  # administrator
    assert "lab/gpt-4o-mini" in await _model_ids(client, carol)
    bobs = await _model_ids(client, bob)
    assert not any(model.startswith("lab/") for model in bobs)
    assert "double/gpt-4o-mini" in bobs  # the others stay

    # Not reachable either: bob's unavailable list does not name it.
    openai_double.models_error = None
    await client.patch(f"/api/admin/providers/{lab['id']}", headers=alice.headers,
                       json={"base_url": "http://127.0.0.1:9/v1"})
    assert "lab/*" in await _model_ids(client, carol)
    assert "lab/*" not in await _model_ids(client, bob)


async def test_a_user_not_allowed_cannot_save_an_assistant_with_the_model_and_learns_nothing(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    await _lab(client, alice, openai_double, [])
    refused = await client.post("/api/assistants", headers=bob.headers, json={"name": "X", "model": "lab/gpt-4o-mini"})
    missing = await client.post("/api/assistants", headers=bob.headers, json={"name": "X", "model": "nolab/gpt-4o-mini"})
    assert refused.status_code == missing.status_code == 422
    assert refused.json()["error"]["code"] == "model_unavailable"
    assert refused.json()["error"]["message"] == missing.json()["error"]["message"].replace("nolab", "lab")
    assert (await client.get("/api/assistants", headers=bob.headers)).json()["count"] == 0
    ok = await client.post("/api/assistants", headers=alice.headers, json={"name": "A", "model": "lab/gpt-4o-mini"})
    assert ok.status_code == 201, ok.text


async def test_withdrawn_access_stops_turns_before_anything_is_saved_or_called(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    lab = await _lab(client, alice, openai_double, [bob.id])
    assistant = await client.post("/api/assistants", headers=bob.headers,
                                  json={"name": "B", "model": "lab/gpt-4o-mini"})
    assert assistant.status_code == 201, assistant.text
    conversation = (await client.post("/api/conversations", headers=bob.headers,
                                      json={"assistant_id": assistant.json()["id"]})).json()
    await client.patch(f"/api/conversations/{conversation['id']}", headers=bob.headers, json={"title": "Fixed"})
    assert (await send(client, bob, conversation["id"], "hello")).status_code == 201
    calls = chat_calls(openai_double)

    withdrawn = await client.patch(f"/api/admin/providers/{lab['id']}", headers=alice.headers,
                                   json={"allowed_user_ids": []})
    assert withdrawn.status_code == 200 and withdrawn.json()["allowed_user_ids"] == []
    refused = await send(client, bob, conversation["id"], "again")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "model_unavailable"
    assert chat_calls(openai_double) == calls
    saved = await messages(client, bob, conversation["id"])
    assert len(saved) == 2 and saved[0]["text"] == "hello"  # nothing added by the refusal
    switched = await client.patch(f"/api/conversations/{conversation['id']}", headers=bob.headers,
                                  json={"model": "lab/gpt-4o-mini"})
    assert switched.status_code == 422 and switched.json()["error"]["code"] == "model_unavailable"

    everyone = await client.patch(f"/api/admin/providers/{lab['id']}", headers=alice.headers,
                                  json={"allowed_user_ids": None})
    assert everyone.json()["allowed_user_ids"] is None
    assert "lab/gpt-4o-mini" in await _model_ids(client, bob)


async def test_unknown_user_ids_are_refused_and_only_administrators_set_access(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    lab = await _lab(client, alice, openai_double, None)
    unknown = await client.patch(f"/api/admin/providers/{lab['id']}", headers=alice.headers,
                                 json={"allowed_user_ids": [bob.id, "0" * 32]})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_user"
    by_bob = await client.patch(f"/api/admin/providers/{lab['id']}", headers=bob.headers,
                                json={"allowed_user_ids": [bob.id]})
    assert by_bob.status_code == 403
    listed = {p["name"]: p for p in (await client.get("/api/admin/providers", headers=alice.headers)).json()}
    assert listed["lab"]["allowed_user_ids"] is None
    too_long = await client.post("/api/admin/providers", headers=alice.headers, json={
        "name": "lab3", "kind": "openai_compatible", "base_url": openai_double.base_url,
        "allow_private_network": True, "allowed_user_ids": ["x" * 33]})
    assert too_long.status_code == 422


async def test_the_price_table_leaves_out_the_models_of_providers_a_user_may_not_use(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    await _lab(client, alice, openai_double, [])
    current = (await client.get("/api/admin/prices", headers=alice.headers)).json()
    models = current["models"] + [{"pattern": "lab/gpt-4o-mini", "input_per_1m": 1, "cached_input_per_1m": None,
                                   "output_per_1m": 2}]
    assert (await client.put("/api/admin/prices", headers=alice.headers, json={"models": models})).status_code == 200
    for_bob = {m["pattern"] for m in (await client.get("/api/prices", headers=bob.headers)).json()["models"]}
    for_alice = {m["pattern"] for m in (await client.get("/api/prices", headers=alice.headers)).json()["models"]}
    assert "lab/gpt-4o-mini" in for_alice and "lab/gpt-4o-mini" not in for_bob
    assert for_bob == for_alice - {"lab/gpt-4o-mini"}


async def test_another_process_picks_up_a_providers_change_and_its_restrictions(
        client: httpx.AsyncClient, app_state: Any, alice: UserSession, bob: UserSession,
        openai_double: OpenAIDouble) -> None:
    """Several workers: an admin's change reloads the process that made it at once; the others notice
    it on their next check (``ProviderService.follow_changes``, every few seconds): the registry and the
    restrictions each turn's start reads from memory."""
    from functools import partial

    from agentcreator.db.session import session_scope
    from agentcreator.llm.registry import ModelRegistry, build_provider
    from agentcreator.services.providers import ProviderService

    registry = ModelRegistry(factory=partial(build_provider, guard=app_state.outbound))
    other = ProviderService(app_state.sessions, registry, app_state.settings, app_state.secrets, app_state.outbound)
    await other.reload()  # the other worker, started before the change
    assert not await other.reload_if_changed()
    lab = await _lab(client, alice, openai_double, [alice.id])
    async with session_scope(app_state.sessions) as session:
        assert await other.access.usable_by(session, "lab", bob.id)  # not known there yet: not restricted
        assert await other.reload_if_changed()
        assert not await other.access.usable_by(session, "lab", bob.id)
        assert await other.access.usable_by(session, "lab", alice.id)
    assert "lab" in registry.providers

    everyone = await client.patch(f"/api/admin/providers/{lab['id']}", headers=alice.headers,
                                  json={"allowed_user_ids": None})
    assert everyone.status_code == 200, everyone.text
    async with session_scope(app_state.sessions) as session:
        assert await other.reload_if_changed()
        assert await other.access.usable_by(session, "lab", bob.id)
    assert (await client.delete(f"/api/admin/providers/{lab['id']}", headers=alice.headers)).status_code == 204
    assert await other.reload_if_changed()
    assert "lab" not in registry.providers
    await registry.aclose()


async def test_the_watch_of_another_process_reloads_on_its_own(
        client: httpx.AsyncClient, app_state: Any, alice: UserSession, openai_double: OpenAIDouble) -> None:
    """``follow_changes`` (started by each process: ``LLM__PROVIDERS_CHECK_SECONDS``) picks up a change."""
    import asyncio
    from functools import partial

    from agentcreator.llm.registry import ModelRegistry, build_provider
    from agentcreator.services.providers import ProviderService

    registry = ModelRegistry(factory=partial(build_provider, guard=app_state.outbound))
    other = ProviderService(app_state.sessions, registry, app_state.settings, app_state.secrets, app_state.outbound)
    await other.reload()
    watch = asyncio.create_task(other.follow_changes(0.05))
    try:
        await _lab(client, alice, openai_double, None)
        for _ in range(200):
            if "lab" in registry.providers:
                break
            await asyncio.sleep(0.05)
        assert "lab" in registry.providers
    finally:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        await registry.aclose()
