"""Regenerate and edit create branches; every version stays browsable through the thread API."""

from __future__ import annotations

import httpx

from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script


async def thread(client: httpx.AsyncClient, user: UserSession, conversation_id: str) -> dict:
    response = await client.get(f"/api/conversations/{conversation_id}/thread", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_regenerate_adds_a_version_and_both_stay_browsable(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    openai_double.push(Script(text=["First", " answer"]), Script(text=["Title"]),
                       Script(text=["Second", " answer"]))
    _, conversation = await make_chat(client, alice)
    first = (await send(client, alice, conversation["id"], "question")).json()["assistant_message"]
    await app_state.chat.drain()  # the title is written after the answer: its call must not take a later script
    regen = await client.post(f"/api/conversations/{conversation['id']}/messages/{first['id']}/regenerate",
                              headers=alice.headers)
    assert regen.status_code == 201, regen.text
    second = regen.json()["assistant_message"]
    assert regen.json()["user_message"] is None
    assert second["text"] == "Second answer" and second["parent_id"] == first["parent_id"]
    current = await thread(client, alice, conversation["id"])
    assert [m["text"] for m in current["data"]] == ["question", "Second answer"]
    assert current["data"][1]["version"] == {"index": 1, "count": 2, "ids": [first["id"], second["id"]]}
    # the regenerated request resent the same question, without the replaced answer
    sent = openai_double.last_request.body["messages"]
    assert [m["content"] for m in sent if m["role"] != "system"] == ["question"]
    chosen = await client.post(f"/api/conversations/{conversation['id']}/messages/{first['id']}/select",
                               headers=alice.headers)
    assert chosen.status_code == 200
    assert [m["text"] for m in chosen.json()["data"]] == ["question", "First answer"]
    assert chosen.json()["data"][1]["version"]["index"] == 0


async def test_edit_resends_from_that_point_as_a_new_branch(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    openai_double.push(Script(text=["A1"]), Script(text=["Title"]), Script(text=["A2"]), Script(text=["A2-edited"]))
    _, conversation = await make_chat(client, alice)
    await send(client, alice, conversation["id"], "q1")
    await app_state.chat.drain()  # the title call (after the first answer) must not take a later script
    second = (await send(client, alice, conversation["id"], "q2")).json()
    edited = await client.post(
        f"/api/conversations/{conversation['id']}/messages/{second['user_message']['id']}/edit",
        headers=alice.headers, json={"content": "q2 (edited)"})
    assert edited.status_code == 201, edited.text
    assert edited.json()["assistant_message"]["text"] == "A2-edited"
    current = await thread(client, alice, conversation["id"])
    assert [m["text"] for m in current["data"]] == ["q1", "A1", "q2 (edited)", "A2-edited"]
    assert current["data"][2]["version"]["count"] == 2
    sent = [m["content"] for m in openai_double.last_request.body["messages"] if m["role"] != "system"]
    assert sent == ["q1", "A1", "q2 (edited)"]
    back = await client.post(
        f"/api/conversations/{conversation['id']}/messages/{second['user_message']['id']}/select",
        headers=alice.headers)
    assert [m["text"] for m in back.json()["data"]] == ["q1", "A1", "q2", "A2"]
    # a new message continues the branch being shown
    openai_double.push(Script(text=["A3"]))
    third = (await send(client, alice, conversation["id"], "q3")).json()
    assert third["user_message"]["parent_id"] == second["assistant_message"]["id"]


async def test_only_answers_regenerate_and_only_user_messages_edit(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    _, conversation = await make_chat(client, alice)
    turn = (await send(client, alice, conversation["id"], "hi")).json()
    base = f"/api/conversations/{conversation['id']}/messages"
    wrong_regen = await client.post(f"{base}/{turn['user_message']['id']}/regenerate", headers=alice.headers)
    assert wrong_regen.status_code == 422 and wrong_regen.json()["error"]["code"] == "not_regenerable"
    wrong_edit = await client.post(f"{base}/{turn['assistant_message']['id']}/edit", headers=alice.headers,
                                   json={"content": "x"})
    assert wrong_edit.status_code == 422 and wrong_edit.json()["error"]["code"] == "not_editable"
    missing = await client.post(f"{base}/{'0' * 32}/regenerate", headers=alice.headers)
    assert missing.status_code == 404


async def test_context_inspector_shows_what_was_sent(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    _, conversation = await make_chat(client, alice, history_window=2)
    for text in ("one", "two", "three"):
        await send(client, alice, conversation["id"], text)
    listing = (await client.get(f"/api/conversations/{conversation['id']}/messages",
                                headers=alice.headers)).json()["data"]
    last_answer = listing[-1]
    inspected = await client.get(
        f"/api/conversations/{conversation['id']}/messages/{last_answer['id']}/context", headers=alice.headers)
    assert inspected.status_code == 200
    context = inspected.json()["context"]
    assert [k["id"] for k in context["kept"]] == [listing[3]["id"], listing[4]["id"]]  # window of 2
    assert context["dropped_by_window"] == [m["id"] for m in listing[:3]]
    assert all(k["tokens"] > 0 for k in context["kept"])
    sent = [m["content"] for m in openai_double.last_request.body["messages"] if m["role"] != "system"]
    assert sent == ["Hello from the double.", "three"]


async def test_empty_or_malformed_messages_are_refused_and_nothing_is_saved(
        client: httpx.AsyncClient, alice: UserSession) -> None:
    _, conversation = await make_chat(client, alice)
    url = f"/api/conversations/{conversation['id']}/messages"
    for body in ({"content": ""}, {"content": "   "}, {"content": []}, {"text": "hi"}, {"content": 5},
                 {"content": [{"type": "image", "url": "javascript:alert(1)"}]}):
        response = await client.post(url, headers=alice.headers, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == "validation_error"
    malformed = await client.post(url, headers=alice.headers | {"Content-Type": "application/json"},
                                  content=b"{not json")
    assert malformed.status_code == 422
    listing = await client.get(url, headers=alice.headers)
    assert listing.json()["count"] == 0


async def test_images_on_a_model_without_vision_are_refused_before_the_call(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    _, conversation = await make_chat(client, alice, model="double/gpt-4o-mini")
    response = await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                                 json={"content": [{"type": "text", "text": "what is this?"},
                                                   {"type": "image", "url": "data:image/png;base64,iVBORw0KGgo="}]})
    assert response.status_code == 422, response.text
    # checked with attached images, before an image URL would be fetched (issue 12: names the model)
    assert response.json()["error"]["code"] == "model_cannot_see_images"
    assert not any(r.path.endswith("/chat/completions") for r in openai_double.requests)
    listing = await client.get(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers)
    assert listing.json()["count"] == 0
