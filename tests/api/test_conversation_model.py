"""A model per conversation: PATCH ``model`` (one of the assistant's provider's models the platform
serves), used by the next answer, which records it; the capability checks follow the chosen model."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from agentcreator.db.models import Run
from agentcreator.state import AppState
from tests.api.billing_helpers import usage_records
from tests.api.chat_helpers import make_chat, messages, send
from tests.api.files_helpers import uploaded
from tests.conftest import UserSession
from tests.files import samples
from tests.llm.openai_double import OpenAIDouble, Script
from tests.tools.scripted import function, scripted_functions


async def _titled_chat(client: httpx.AsyncClient, user: UserSession, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    assistant, conversation = await make_chat(client, user, **fields)
    await client.patch(f"/api/conversations/{conversation['id']}", headers=user.headers, json={"title": "Fixed"})
    return assistant, conversation


async def _patch(client: httpx.AsyncClient, user: UserSession, conversation_id: str, body: dict[str, Any]) -> httpx.Response:
    return await client.patch(f"/api/conversations/{conversation_id}", headers=user.headers, json=body)


async def _get(client: httpx.AsyncClient, user: UserSession, conversation_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/conversations/{conversation_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_next_answer_uses_the_chosen_model_and_records_it(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    _, conversation = await _titled_chat(client, alice)  # double/gpt-4o-mini
    assert conversation["model"] is None
    openai_double.push(Script(text=["From the small one."]))
    first = (await send(client, alice, conversation["id"], "one")).json()["assistant_message"]
    assert first["model"] == "double/gpt-4o-mini" and openai_double.last_request.body["model"] == "gpt-4o-mini"

    switched = await _patch(client, alice, conversation["id"], {"model": "double/gpt-4o"})
    assert switched.status_code == 200, switched.text
    assert switched.json()["model"] == "double/gpt-4o"
    assert (await _get(client, alice, conversation["id"]))["model"] == "double/gpt-4o"
    openai_double.push(Script(text=["From the big one."]))
    second = (await send(client, alice, conversation["id"], "two")).json()["assistant_message"]
    assert openai_double.last_request.body["model"] == "gpt-4o"
    assert second["model"] == "double/gpt-4o"
    # each saved answer keeps the model that wrote it; usage and the run are recorded against it
    stored = [(m["text"], m["model"]) for m in await messages(client, alice, conversation["id"]) if m["role"] == "assistant"]
    assert stored == [("From the small one.", "double/gpt-4o-mini"), ("From the big one.", "double/gpt-4o")]
    records = await usage_records(app_state, conversation_id=conversation["id"], kind="chat")
    assert [(r.provider, r.model) for r in records] == [("double", "gpt-4o-mini"), ("double", "gpt-4o")]
    async with app_state.sessions() as session:
        runs = (await session.execute(select(Run.model).where(Run.conversation_id == conversation["id"])
                                      .order_by(Run.created_at))).scalars().all()
    assert list(runs) == ["double/gpt-4o-mini", "double/gpt-4o"]

    # null: back to the assistant's model
    reset = await _patch(client, alice, conversation["id"], {"model": None})
    assert reset.status_code == 200 and reset.json()["model"] is None
    openai_double.push(Script(text=["Small again."]))
    third = (await send(client, alice, conversation["id"], "three")).json()["assistant_message"]
    assert third["model"] == "double/gpt-4o-mini" and openai_double.last_request.body["model"] == "gpt-4o-mini"


@pytest.mark.parametrize("model", [
    "double/no-such-model",  # not served by the assistant's provider
    "openai/gpt-4o-mini",  # served, but by another provider
    "local/smollm2-135m-instruct",
    "gpt-4o",  # not provider/model
    "double/",
    "/gpt-4o",
    "d" * 201,
    "",
    42,
    ["double/gpt-4o"],
])
async def test_an_unknown_or_not_allowed_model_is_422_and_changes_nothing(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, model: Any) -> None:
    _, conversation = await _titled_chat(client, alice)
    assert (await _patch(client, alice, conversation["id"], {"model": "double/gpt-4o"})).status_code == 200
    response = await _patch(client, alice, conversation["id"], {"model": model, "title": "Renamed"})
    assert response.status_code == 422, response.text
    after = await _get(client, alice, conversation["id"])
    assert (after["model"], after["title"]) == ("double/gpt-4o", "Fixed")


async def test_another_users_conversation_is_404_and_unchanged(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble) -> None:
    _, conversation = await _titled_chat(client, alice)
    await make_chat(client, bob)  # bob has an assistant on the same provider
    for model in ("double/gpt-4o", None, "double/no-such-model"):
        response = await _patch(client, bob, conversation["id"], {"model": model})
        assert response.status_code == 404, response.text
    assert (await _get(client, alice, conversation["id"]))["model"] is None


async def test_a_conversation_whose_assistant_was_deleted_cannot_switch(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    assistant, conversation = await _titled_chat(client, alice)
    assert (await client.delete(f"/api/assistants/{assistant['id']}", headers=alice.headers)).status_code == 204
    response = await _patch(client, alice, conversation["id"], {"model": "double/gpt-4o"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "assistant_deleted"
    assert (await _get(client, alice, conversation["id"]))["model"] is None


async def test_the_tools_check_follows_the_chosen_model(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    with scripted_functions(app_state.tools) as tools:
        _, conversation = await _titled_chat(client, alice, tools=[function("add")])
        assert (await _patch(client, alice, conversation["id"], {"model": "double/no-tools"})).status_code == 200
        openai_double.push(Script(text=["Plain answer."]))
        answer = (await send(client, alice, conversation["id"], "Add")).json()["assistant_message"]
        assert answer["content"][0] == {"type": "notice", "code": "tools_unavailable",
                                        "message": "double/no-tools cannot call tools, so it answers without them."}
        assert "tools" not in openai_double.last_request.body and tools.log == []

        # back on a model with tool calling, the tools are offered again
        assert (await _patch(client, alice, conversation["id"], {"model": None})).status_code == 200
        openai_double.push(Script(text=["With tools."]))
        await send(client, alice, conversation["id"], "Add again")
        assert [t["function"]["name"] for t in openai_double.last_request.body["tools"]] == ["add"]


async def test_the_vision_check_follows_the_chosen_model(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    _, conversation = await _titled_chat(client, alice, model="double/vision-model")
    image = await uploaded(client, alice, "photo.png", samples.image())
    body = {"content": "what is this?", "file_ids": [image["id"]]}
    assert (await _patch(client, alice, conversation["id"], {"model": "double/gpt-4o-mini"})).status_code == 200
    calls = len(openai_double.requests)
    refused = await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers, json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"] == {"model": "double/gpt-4o-mini"}
    assert await messages(client, alice, conversation["id"]) == [] and len(openai_double.requests) == calls
    assert (await _patch(client, alice, conversation["id"], {"model": None})).status_code == 200
    openai_double.push(Script(text=["A picture."]))
    accepted = await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers, json=body)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["assistant_message"]["model"] == "double/vision-model"
