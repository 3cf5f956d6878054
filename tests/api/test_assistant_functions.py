"""HTTP function tools on assistants: header secrets encrypted at rest, never returned, kept by the
mask; endpoint validation; owner scoping of functions and their secrets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agentcreator.db.models import Assistant
from agentcreator.services.function_secrets import MASK
from agentcreator.state import AppState
from tests.api.test_assistants_factories import get_json, make_assistant
from tests.conftest import UserSession

SECRET = "sk-live-0123456789-very-secret"


def weather(headers: dict[str, str] | None = None, name: str = "get_weather", **endpoint: Any) -> dict[str, Any]:
    return {"type": "function", "name": name, "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "endpoint": {"method": "GET", "url": "https://api.weather.example/v1/{city}",
                         "headers": {"X-Api-Key": SECRET} if headers is None else headers, **endpoint}}


async def stored_tools(app_state: AppState, assistant_id: str) -> list[dict[str, Any]]:
    async with app_state.sessions() as session:
        row = await session.get(Assistant, assistant_id)
        assert row is not None
        return row.tools


async def test_header_secrets_are_encrypted_and_never_returned(client: httpx.AsyncClient, alice: UserSession,
                                                               app_state: AppState) -> None:
    created = await make_assistant(alice, tools=[weather(), {"type": "function", "name": "client_only"}])
    assert created["tools"][0]["endpoint"] == {"method": "GET", "url": "https://api.weather.example/v1/{city}",
                                               "headers": {"X-Api-Key": MASK}, "query": []}
    assert "endpoint" not in created["tools"][1]
    stored = await stored_tools(app_state, created["id"])
    sealed = stored[0]["endpoint"]["headers"]["X-Api-Key"]
    assert SECRET not in str(stored) and app_state.secrets.decrypt(sealed) == SECRET
    responses = [await client.get(f"/api/assistants/{created['id']}", headers=alice.headers),
                 await client.get("/api/assistants", headers=alice.headers),
                 await client.get(f"/api/assistants/{created['id']}/export", headers=alice.headers)]
    for response in responses:
        assert response.status_code == 200
        assert SECRET not in response.text and sealed not in response.text and MASK in response.text


async def test_the_mask_keeps_the_stored_secret_and_a_new_value_replaces_it(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    created = await make_assistant(alice, tools=[weather()])
    sealed = (await stored_tools(app_state, created["id"]))[0]["endpoint"]["headers"]["X-Api-Key"]
    # the form sends back what GET showed, with another description and one more header
    tools = created["tools"]
    tools[0]["description"] = "Weather, in Celsius"
    tools[0]["endpoint"]["headers"]["accept-language"] = "en"
    response = await client.patch(f"/api/assistants/{created['id']}", json={"tools": tools}, headers=alice.headers)
    assert response.status_code == 200, response.text
    headers = (await stored_tools(app_state, created["id"]))[0]["endpoint"]["headers"]
    assert headers["X-Api-Key"] == sealed
    assert app_state.secrets.decrypt(headers["accept-language"]) == "en"
    # a header name matches whatever its case
    tools[0]["endpoint"]["headers"] = {"x-api-key": MASK}
    assert (await client.patch(f"/api/assistants/{created['id']}", json={"tools": tools},
                               headers=alice.headers)).status_code == 200
    assert (await stored_tools(app_state, created["id"]))[0]["endpoint"]["headers"] == {"x-api-key": sealed}
    tools[0]["endpoint"]["headers"] = {"x-api-key": "sk-new"}
    assert (await client.patch(f"/api/assistants/{created['id']}", json={"tools": tools},
                               headers=alice.headers)).status_code == 200
    new = (await stored_tools(app_state, created["id"]))[0]["endpoint"]["headers"]["x-api-key"]
    assert new != sealed and app_state.secrets.decrypt(new) == "sk-new"


async def test_a_mask_with_nothing_stored_is_refused_and_changes_nothing(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    created = await make_assistant(alice, tools=[weather()])
    before = await stored_tools(app_state, created["id"])
    cases = [[weather({"X-Other": MASK})],  # a header never stored
             [weather({"X-Api-Key": MASK}, name="renamed")]]  # secrets belong to the function's name
    for tools in cases:
        response = await client.patch(f"/api/assistants/{created['id']}", json={"tools": tools},
                                      headers=alice.headers)
        assert response.status_code == 422, response.text
        assert "has no stored value to keep" in response.json()["error"]["message"]
    assert await stored_tools(app_state, created["id"]) == before
    response = await client.post("/api/assistants", json={"name": "New", "tools": [weather({"X-Api-Key": MASK})]},
                                 headers=alice.headers)
    assert response.status_code == 422


async def test_an_exported_assistant_needs_its_secrets_again(client: httpx.AsyncClient, alice: UserSession) -> None:
    created = await make_assistant(alice, tools=[weather()])
    document = await get_json(client, alice, f"/api/assistants/{created['id']}/export")
    assert document["assistant"]["tools"][0]["endpoint"]["headers"] == {"X-Api-Key": MASK}
    response = await client.post("/api/assistants/import", json=document, headers=alice.headers)
    assert response.status_code == 422
    assert "exported assistants carry no secrets" in response.json()["error"]["message"]
    document["assistant"]["tools"][0]["endpoint"]["headers"]["X-Api-Key"] = "sk-typed-again"
    assert (await client.post("/api/assistants/import", json=document, headers=alice.headers)).status_code == 201


async def test_duplicate_keeps_working_secrets(client: httpx.AsyncClient, alice: UserSession,
                                               app_state: AppState) -> None:
    created = await make_assistant(alice, tools=[weather()])
    response = await client.post(f"/api/assistants/{created['id']}/duplicate", headers=alice.headers)
    assert response.status_code == 201 and SECRET not in response.text
    copy = await stored_tools(app_state, response.json()["id"])
    assert app_state.secrets.decrypt(copy[0]["endpoint"]["headers"]["X-Api-Key"]) == SECRET


async def test_another_user_cannot_reach_functions_or_secrets(client: httpx.AsyncClient, alice: UserSession,
                                                              bob: UserSession, app_state: AppState) -> None:
    created = await make_assistant(alice, tools=[weather()])
    before = await stored_tools(app_state, created["id"])
    path = f"/api/assistants/{created['id']}"
    attempts = [client.get(path, headers=bob.headers),
                client.get(f"{path}/export", headers=bob.headers),
                client.post(f"{path}/duplicate", headers=bob.headers),
                client.patch(path, json={"tools": [weather({"X-Api-Key": MASK},
                                                          url="https://evil.example/{city}")]},
                             headers=bob.headers),
                client.delete(path, headers=bob.headers)]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, response.text
        assert SECRET not in response.text
    assert await stored_tools(app_state, created["id"]) == before
    listing = await get_json(client, bob, "/api/assistants")
    assert listing["count"] == 0
    # bob cannot borrow alice's secret by naming her function in his own assistant
    response = await client.post("/api/assistants", json={"name": "Mine", "tools": [weather({"X-Api-Key": MASK})]},
                                 headers=bob.headers)
    assert response.status_code == 422


@pytest.mark.parametrize("endpoint, message", [
    ({"url": "ftp://files.example/{city}"}, "http"),
    ({"url": "https://user:pw@api.example/{city}"}, "user name or password"),
    ({"url": "https://{city}.example.com/x"}, "not in the host"),
    ({"url": "https://api.example:{city}/x"}, "not in the host"),
    ({"url": "https://api.example/{town}"}, "placeholders must be parameters"),
    ({"url": "https://api.example/{city"}, "placeholders are written"),
    ({"url": "https://api.example/x#frag"}, "fragment"),
    ({"url": "/relative/{city}"}, "http"),
    ({"method": "TRACE"}, "method"),
    ({"headers": {"Host": "internal"}}, "set by the server"),
    ({"headers": {"X-A": "1", "x-a": "2"}}, "named twice"),
    ({"headers": {"X-Bad": "v\r\nX-Injected: 1"}}, "headers"),
    ({"headers": {"Bad Name": "v"}}, "headers"),
    ({"headers": {f"X-{i}": "v" for i in range(21)}}, "headers"),
    ({"query": ["has space"]}, "query"),
    ({"extra": 1}, "extra"),
])
async def test_bad_endpoints_are_refused(client: httpx.AsyncClient, alice: UserSession,
                                         endpoint: dict[str, Any], message: str) -> None:
    tool = weather()
    tool["endpoint"].update(endpoint)
    response = await client.post("/api/assistants", json={"name": "X", "tools": [tool]}, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert message in response.text
    assert (await get_json(client, alice, "/api/assistants"))["count"] == 0


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/{city}", "http://127.1:8080/{city}",
                                 "http://[::1]/{city}", "http://0x7f000001/{city}", "http://10.0.0.5/{city}",
                                 "http://[::ffff:127.0.0.1]/{city}"])
async def test_endpoints_on_literal_private_addresses_are_refused_at_save(
        client: httpx.AsyncClient, alice: UserSession, url: str) -> None:
    response = await client.post("/api/assistants", json={"name": "X", "tools": [weather(url=url)]},
                                 headers=alice.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert "only public addresses can be fetched" in error["message"]
    assert error["details"][0]["loc"] == ["body", "tools", 0, "endpoint", "url"]


async def test_names_and_allow_listed_addresses_are_left_to_call_time(client: httpx.AsyncClient, alice: UserSession,
                                                                     app_state: AppState) -> None:
    # a name is resolved when a call connects (its address may change), so saving it is fine
    await make_assistant(alice, tools=[weather(url="http://localhost:11434/{city}")])
    settings = app_state.settings.outbound
    original = settings.allow_hosts
    settings.allow_hosts = ["127.0.0.1:11434"]
    try:
        await make_assistant(alice, tools=[weather(url="http://127.0.0.1:11434/{city}")])
    finally:
        settings.allow_hosts = original
