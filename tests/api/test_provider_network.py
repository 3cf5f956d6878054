"""Provider base URLs and the SSRF guard: an administrator's provider reaches only public addresses
unless the administrator allowed it on the private network, when it is saved, tested and listed, and
whatever its name resolves to later."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from agentcreator.state import AppState
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble

PUBLIC_ADDRESS = "93.184.215.14"


def _private_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/v1", f"http://localhost:{port}/v1", f"http://LOCALHOST.:{port}/v1",
        f"http://127.1:{port}/v1", f"http://0x7f000001:{port}/v1", f"http://2130706433:{port}/v1",
        f"http://017700000001:{port}/v1", f"http://[::1]:{port}/v1", f"http://[::ffff:127.0.0.1]:{port}/v1",
        f"http://0.0.0.0:{port}/v1", "http://169.254.169.254/latest/meta-data", "http://10.0.0.5/v1",
        "http://192.168.1.10:11434/v1", "http://[fd00::1]/v1", "http://100.64.0.1/v1", "http://[fe80::1]/v1",
    ]


async def _providers(client: httpx.AsyncClient, admin: UserSession) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in (await client.get("/api/admin/providers", headers=admin.headers)).json()}


async def test_private_addresses_are_refused_unless_allowed_and_the_refusal_asks(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    port = httpx.URL(openai_double.base_url).port or 80
    for i, url in enumerate(_private_urls(port)):
        refused = await client.post("/api/admin/providers", headers=alice.headers, json={
            "name": f"p{i}", "kind": "openai_compatible", "base_url": url})
        assert refused.status_code == 422, (url, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "private_network", url
        assert "allow this one on the private network" in error["message"]
        assert error["details"][0]["loc"] == ["body", "allow_private_network"]
    assert not {f"p{i}" for i in range(20)} & set(await _providers(client, alice))
    assert not openai_double.requests

    allowed = await client.post("/api/admin/providers", headers=alice.headers, json={
        "name": "ollama", "kind": "openai_compatible", "base_url": f"http://localhost:{port}/v1",
        "allow_private_network": True})
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["allow_private_network"] is True
    tested = await client.post(f"/api/admin/providers/{allowed.json()['id']}/test", headers=alice.headers)
    assert tested.json()["ok"] is True, tested.text
    models = (await client.get("/api/models", headers=alice.headers)).json()
    assert any(m["provider"] == "ollama" for m in models["data"]) and "ollama" not in models["unavailable"]


async def test_credentials_in_the_url_are_refused_even_on_the_private_network(
        client: httpx.AsyncClient, alice: UserSession) -> None:
    for allow in (False, True):
        refused = await client.post("/api/admin/providers", headers=alice.headers, json={
            "name": "creds", "kind": "openai_compatible", "base_url": "http://user:sk-secret@localhost:8080/v1",
            "allow_private_network": allow})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_base_url"
        assert "sk-secret" not in refused.text
    assert "creds" not in await _providers(client, alice)


async def test_edits_cannot_point_a_provider_at_the_private_network_without_the_flag(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    created = await client.post("/api/admin/providers", headers=alice.headers, json={
        "name": "lab", "kind": "openai_compatible", "base_url": openai_double.base_url,
        "allow_private_network": True})
    provider_id = created.json()["id"]
    off = await client.patch(f"/api/admin/providers/{provider_id}", headers=alice.headers,
                             json={"allow_private_network": False})
    assert off.status_code == 422 and off.json()["error"]["code"] == "private_network"
    assert (await _providers(client, alice))["lab"]["allow_private_network"] is True

    public = await client.post("/api/admin/providers", headers=alice.headers, json={
        "name": "public", "kind": "openai_compatible", "base_url": f"http://{PUBLIC_ADDRESS}/v1"})
    assert public.status_code == 201, public.text
    moved = await client.patch(f"/api/admin/providers/{public.json()['id']}", headers=alice.headers,
                               json={"base_url": "http://169.254.169.254/latest"})
    assert moved.status_code == 422 and moved.json()["error"]["code"] == "private_network"
    assert (await _providers(client, alice))["public"]["base_url"] == f"http://{PUBLIC_ADDRESS}/v1"
    nulled = await client.patch(f"/api/admin/providers/{provider_id}", headers=alice.headers,
                                json={"allow_private_network": None, "enabled": None})
    assert nulled.status_code == 200 and nulled.json()["allow_private_network"] is True
    assert nulled.json()["enabled"] is True


class _SwitchingResolver:
    """A name that resolves to a public address while it is saved, then to loopback (DNS rebinding)."""

    def __init__(self) -> None:
        self.answer = PUBLIC_ADDRESS
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host != "rebind.test":
            raise OSError(f"unknown host {host}")
        return [self.answer]


@pytest.fixture
async def resolver(app_state: AppState) -> AsyncIterator[_SwitchingResolver]:
    policy = app_state.outbound.policy
    original = policy.resolver
    fake = _SwitchingResolver()
    policy.resolver = fake
    try:
        yield fake
    finally:
        policy.resolver = original


async def test_a_name_that_later_resolves_to_loopback_is_refused_when_tested_and_listed(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble,
        resolver: _SwitchingResolver) -> None:
    port = httpx.URL(openai_double.base_url).port
    created = await client.post("/api/admin/providers", headers=alice.headers, json={
        "name": "rebind", "kind": "openai_compatible", "base_url": f"http://rebind.test:{port}/v1"})
    assert created.status_code == 201, created.text
    assert "rebind.test" in resolver.asked  # checked by what the name resolved to
    resolver.answer = "127.0.0.1"
    openai_double.requests.clear()

    tested = await client.post(f"/api/admin/providers/{created.json()['id']}/test", headers=alice.headers)
    assert tested.json()["ok"] is False
    assert tested.json()["error"]["code"] == "private_network"
    listed = await client.get("/api/models", headers=alice.headers)
    assert listed.status_code == 200, listed.text
    models = listed.json()
    assert not any(m["provider"] == "rebind" for m in models["data"])
    assert models["unavailable"]["rebind"]["code"] == "blocked_destination"
    assert "loopback" in models["unavailable"]["rebind"]["message"]
    assert not openai_double.requests  # nothing reached the loopback server

    # Allowed on the private network, the same name reaches it (through the address the guard checked).
    allowed = await client.patch(f"/api/admin/providers/{created.json()['id']}", headers=alice.headers,
                                 json={"allow_private_network": True})
    assert allowed.status_code == 200
    tested = await client.post(f"/api/admin/providers/{created.json()['id']}/test", headers=alice.headers)
    assert tested.json()["ok"] is True, tested.text
    assert openai_double.requests and openai_double.requests[-1].headers["host"] == f"rebind.test:{port}"
