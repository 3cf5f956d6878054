"""Reading runs: ``GET /api/conversations/{id}/runs`` and ``.../runs/{run_id}`` show a run's status and
steps, and the calls a paused run waits for; another user gets 404 and changes nothing."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from agentcreator.db.models import Run
from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, send, sse_events
from tests.api.test_tool_outputs import _paused, _submit
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script, ToolCallScript
from tests.tools.scripted import function, scripted_functions


def _url(conversation_id: str, run_id: str | None = None) -> str:
    return f"/api/conversations/{conversation_id}/runs" + (f"/{run_id}" if run_id else "")


async def _run_count(state: AppState) -> int:
    async with state.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Run))).scalar_one())


async def test_a_run_with_a_tool_round_shows_its_steps(client: httpx.AsyncClient, alice: UserSession,
                                                       openai_double: OpenAIDouble, app_state: AppState) -> None:
    openai_double.push(Script(tool_calls=[ToolCallScript("add", ['{"a": 1, "b": 2}'])]), Script(text=["3."]))
    with scripted_functions(app_state.tools):
        _, conversation = await make_chat(client, alice, model="double/gpt-4o-mini", tools=[function("add")])
        turn = (await send(client, alice, conversation["id"], "Add")).json()
    run_id = turn["run_id"]
    run = (await client.get(_url(conversation["id"], run_id), headers=alice.headers)).json()
    assert (run["id"], run["status"], run["ended_by"], run["rounds"]) == (run_id, "completed", "answer", 2)
    assert run["message_id"] == turn["assistant_message"]["id"] and run["pending_tool_calls"] == []
    assert [(s["index"], s["kind"], s["status"]) for s in run["steps"]] == [
        (0, "model_call", "completed"), (1, "tool_calls", "completed")]
    assert [c["name"] for c in run["steps"][1]["details"]["calls"]] == ["add"]
    listed = (await client.get(_url(conversation["id"]), headers=alice.headers)).json()
    assert listed["count"] == 1 and [r["id"] for r in listed["data"]] == [run_id]
    assert listed["data"][0]["steps"] == []  # the list leaves the steps out


async def test_a_paused_run_lists_the_calls_it_waits_for(client: httpx.AsyncClient, alice: UserSession,
                                                         openai_double: OpenAIDouble, app_state: AppState) -> None:
    call = ToolCallScript("get_weather", ['{"city": "Paris"}'])
    conversation, paused = await _paused(client, alice, openai_double, call)
    url = _url(conversation["id"], paused["run_id"])
    run = (await client.get(url, headers=alice.headers)).json()
    assert run["status"] == "requires_action"
    assert run["pending_tool_calls"] == [{"call_id": call.call_id, "name": "get_weather",
                                          "arguments": '{"city": "Paris"}'}]
    openai_double.push(Script(text=["Sunny."]))
    submitted = await _submit(client, alice, conversation["id"], paused["run_id"],
                              [{"tool_call_id": call.call_id, "output": "sunny"}])
    assert submitted.status_code == 200, submitted.text
    run = (await client.get(url, headers=alice.headers)).json()
    assert (run["status"], run["pending_tool_calls"]) == ("completed", [])


async def test_another_users_runs_are_not_found(client: httpx.AsyncClient, alice: UserSession, bob: UserSession,
                                                openai_double: OpenAIDouble, app_state: AppState) -> None:
    call = ToolCallScript("get_weather", ['{"city": "Paris"}'])
    conversation, paused = await _paused(client, alice, openai_double, call)
    run_id = paused["run_id"]
    _, own = await make_chat(client, bob, model="double/gpt-4o-mini")
    _, other = await make_chat(client, alice, model="double/gpt-4o-mini")
    before = (await client.get(_url(conversation["id"], run_id), headers=alice.headers)).json()
    for user, url in ((bob, _url(conversation["id"], run_id)), (bob, _url(conversation["id"])),
                      (bob, _url(own["id"], run_id)),  # his conversation, her run
                      (alice, _url(other["id"], run_id)),  # her run, through another of her conversations
                      (alice, _url(conversation["id"], "0" * 32))):
        response = await client.get(url, headers=user.headers)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert (await client.get(_url(own["id"]), headers=bob.headers)).json() == {"data": [], "count": 0}
    after = (await client.get(_url(conversation["id"], run_id), headers=alice.headers)).json()
    assert after == before and after["status"] == "requires_action"
    assert await _run_count(app_state) == 1


async def test_the_stream_ends_saying_the_run_waits_for_the_caller(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    call = ToolCallScript("get_weather", ["{}"])
    openai_double.push(Script(tool_calls=[call]))
    _, conversation = await make_chat(client, alice, model="double/gpt-4o-mini", tools=[function("get_weather")])
    async with client.stream("POST", f"/api/conversations/{conversation['id']}/messages",
                             headers=alice.headers | {"Accept": "text/event-stream"},
                             json={"content": "Weather?"}) as response:
        assert response.status_code == 200, await response.aread()
        events = [event async for event in sse_events(response)]
    last = events[-1]
    assert last.type == "turn_completed" and last.data["run_status"] == "requires_action"
    assert last.data["run_id"] == events[0].data["run_id"]
