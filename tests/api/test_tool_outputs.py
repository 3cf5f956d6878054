"""Client-side functions: a run pauses in ``requires_action`` and the API caller's outputs continue it
(``POST /api/conversations/{id}/runs/{run_id}/tool_outputs``, and the WebSocket frame), against the
OpenAI double on both protocols. The functions are the app's own (a function without an endpoint)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from agentcreator.db.models import Run, RunStep
from agentcreator.state import AppState
from tests.api.billing_helpers import open_reservations, usage_records
from tests.api.chat_helpers import eventually, make_chat, messages, send, sse_events
from tests.api.test_ws import authed, recv_until
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script, ToolCallScript
from tests.tools.scripted import function, scripted_functions

MODELS = ["double/gpt-4o-mini", "openai/gpt-4o-mini"]


def _tool_messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(call id, output) of every tool result in a recorded request, on either protocol."""
    if "messages" in body:
        return [(m["tool_call_id"], m["content"]) for m in body["messages"] if m["role"] == "tool"]
    return [(i["call_id"], i["output"]) for i in body["input"] if i.get("type") == "function_call_output"]


async def _run(state: AppState, run_id: str) -> Run:
    async with state.sessions() as session:
        run = (await session.execute(select(Run).where(Run.id == run_id))).scalar_one()
        session.expunge(run)
        return run


async def _steps(state: AppState, run_id: str) -> list[RunStep]:
    async with state.sessions() as session:
        rows = await session.execute(select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.step_index))
        return list(rows.scalars())


def _submit_url(conversation_id: str, run_id: str) -> str:
    return f"/api/conversations/{conversation_id}/runs/{run_id}/tool_outputs"


async def _submit(client: httpx.AsyncClient, user: UserSession, conversation_id: str, run_id: str,
                  outputs: Any) -> httpx.Response:
    return await client.post(_submit_url(conversation_id, run_id), headers=user.headers,
                             json={"tool_outputs": outputs})


async def _paused(client: httpx.AsyncClient, user: UserSession, openai_double: OpenAIDouble, *calls: ToolCallScript,
                  model: str = "double/gpt-4o-mini", text: str = "Checking.", tools: tuple[str, ...] = ("get_weather",),
                  **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A conversation whose first answer paused in requires_action on ``calls``: (conversation, turn result)."""
    openai_double.push(Script(text=[text] if text else [], tool_calls=list(calls), input_tokens=40, output_tokens=10))
    _, conversation = await make_chat(client, user, model=model, tools=[function(t) for t in tools], **fields)
    await client.patch(f"/api/conversations/{conversation['id']}", headers=user.headers, json={"title": "Fixed"})
    response = await send(client, user, conversation["id"], "Weather in Paris?")
    assert response.status_code == 201, response.text
    return conversation, response.json()


@pytest.mark.parametrize("model", MODELS)
async def test_the_outputs_continue_the_paused_run(client: httpx.AsyncClient, alice: UserSession,
                                                   openai_double: OpenAIDouble, app_state: AppState,
                                                   model: str) -> None:
    call = ToolCallScript("get_weather", ['{"city": ', '"Paris"}'])
    conversation, paused = await _paused(client, alice, openai_double, call, model=model)
    answer, run_id = paused["assistant_message"], paused["run_id"]
    assert answer["status"] == "complete" and run_id
    pending = [p for p in answer["content"] if p["type"] == "tool_call"]
    assert [(p["call_id"], p["status"], p.get("output")) for p in pending] == [(call.call_id, "requires_action", None)]
    assert (await _run(app_state, run_id)).status == "requires_action"
    requests_before = len(openai_double.requests)

    openai_double.push(Script(text=["It is ", "sunny."], input_tokens=60, output_tokens=4))
    response = await _submit(client, alice, conversation["id"], run_id,
                             [{"tool_call_id": call.call_id, "output": '{"sky": "sunny"}'}])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["run_id"] == run_id and body["user_message"] is None
    continued = body["assistant_message"]
    assert continued["id"] == answer["id"] and continued["status"] == "complete"
    assert continued["text"] == "Checking.It is sunny."
    assert [p["type"] for p in continued["content"]] == ["text", "tool_call", "text"]
    part = continued["content"][1]
    assert (part["status"], part["output"], part["is_error"]) == ("complete", '{"sky": "sunny"}', False)
    # One more model call, which read the caller's output as the call's result.
    assert len(openai_double.requests) == requests_before + 1
    assert _tool_messages(openai_double.last_request.body) == [(call.call_id, '{"sky": "sunny"}')]
    # The run went on as itself: two rounds, both metered and settled, its cost the answer's.
    run = await _run(app_state, run_id)
    assert (run.status, run.rounds, run.ended_by, run.finished_at is not None) == ("completed", 2, "answer", True)
    records = await usage_records(app_state, run_id=run_id)
    assert sorted(r.kind for r in records) == ["chat", "chat"]
    assert continued["cost_micros"] == sum(r.cost_micros for r in records) == run.cost_micros > 0
    assert continued["usage"]["input_tokens"] == 100 and continued["usage"]["rounds"] == 2
    assert await open_reservations(app_state) == []
    steps = await _steps(app_state, run_id)
    assert [s.kind for s in steps] == ["model_call", "tool_calls"]
    assert steps[1].details["calls"][0] | {"duration_ms": None} == {
        "call_id": call.call_id, "name": "get_weather", "status": "complete", "is_error": False, "submitted": True,
        "cost_micros": 0, "duration_ms": None}
    saved = await messages(client, alice, conversation["id"])
    assert [m["status"] for m in saved] == ["complete", "complete"] and saved[-1]["content"] == continued["content"]
    # History replays the call with the caller's output to the model.
    openai_double.push(Script(text=["You are welcome."]))
    await send(client, alice, conversation["id"], "Thanks")
    assert _tool_messages(openai_double.last_request.body) == [(call.call_id, '{"sky": "sunny"}')]


async def test_server_and_client_calls_of_one_round_and_a_second_pause(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    """A round with a server tool and a client one: the server call runs, the run waits for the other.
    The continued run asks the caller again; its second continuation sends both rounds' results."""
    add, first = ToolCallScript("add", ['{"a": 1, "b": 2}']), ToolCallScript("client_lookup", ['{"q": 1}'])
    with scripted_functions(app_state.tools) as tools:
        conversation, paused = await _paused(client, alice, openai_double, add, first, text="",
                                             tools=("add", "client_lookup"))
        run_id = paused["run_id"]
        calls = {p["name"]: p for p in paused["assistant_message"]["content"] if p["type"] == "tool_call"}
        assert (calls["add"]["status"], calls["add"]["output"]) == ("complete", "3")
        assert calls["client_lookup"]["status"] == "requires_action"
        # Only the pending call takes an output; the server call's id is not waiting for one.
        refused = await _submit(client, alice, conversation["id"], run_id,
                                [{"tool_call_id": first.call_id, "output": "a"}, {"tool_call_id": add.call_id,
                                                                                   "output": "b"}])
        assert refused.status_code == 422 and refused.json()["error"]["details"]["unknown"] == [add.call_id]

        second = ToolCallScript("client_lookup", ['{"q": 2}'])
        openai_double.push(Script(text=["One more."], tool_calls=[second]))
        response = await _submit(client, alice, conversation["id"], run_id, [{"tool_call_id": first.call_id,
                                                                               "output": "first result"}])
        assert response.status_code == 200, response.text
        again = response.json()["assistant_message"]
        assert [(p["call_id"], p["status"]) for p in again["content"] if p["type"] == "tool_call"] == [
            (add.call_id, "complete"), (first.call_id, "complete"), (second.call_id, "requires_action")]
        assert (await _run(app_state, run_id)).status == "requires_action"

        openai_double.push(Script(text=["All done."]))
        final = await _submit(client, alice, conversation["id"], run_id, [{"tool_call_id": second.call_id,
                                                                            "output": "second result"}])
        assert final.status_code == 200, final.text
    assert len(tools.log) == 1  # the server tool ran once; the client ones never ran here
    answer = final.json()["assistant_message"]
    assert answer["status"] == "complete" and answer["text"] == "One more.All done."
    assert _tool_messages(openai_double.last_request.body) == [
        (add.call_id, "3"), (first.call_id, "first result"), (second.call_id, "second result")]
    run = await _run(app_state, run_id)
    assert (run.status, run.rounds) == ("completed", 3)
    assert len(await usage_records(app_state, run_id=run_id, kind="chat")) == 3
    assert await open_reservations(app_state) == []


@pytest.mark.parametrize(("outputs", "problem"), [
    ([], "too_short"),
    ([{"tool_call_id": "call_other", "output": "x"}], "mismatch"),
    ([{"tool_call_id": "CALL", "output": "x"}, {"tool_call_id": "CALL", "output": "y"}], "mismatch"),
    ([{"tool_call_id": "CALL", "output": "x"}, {"tool_call_id": "call_other", "output": "y"}], "mismatch"),
    ([{"tool_call_id": "CALL", "output": 42}], "schema"),
    ([{"tool_call_id": "CALL", "output": {"sky": "sunny"}}], "schema"),
    ([{"tool_call_id": "CALL", "output": None}], "schema"),
    ([{"tool_call_id": "CALL"}], "schema"),
    ([{"tool_call_id": "CALL", "output": "x", "is_error": True}], "schema"),
    ([{"tool_call_id": "CALL", "output": "x" * 200_001}], "schema"),
    ([{"tool_call_id": "", "output": "x"}], "schema"),
    ([{"tool_call_id": "c" * 201, "output": "x"}], "schema"),
    ([{"tool_call_id": "CALL", "output": "x"}] + [{"tool_call_id": f"call_{i}", "output": ""} for i in range(128)],
     "schema"),
    ("CALL", "schema"),
])
async def test_outputs_that_do_not_match_the_pending_calls_are_refused_and_nothing_changes(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState,
        outputs: Any, problem: str) -> None:
    call = ToolCallScript("get_weather", ['{"city": "Paris"}'])
    conversation, paused = await _paused(client, alice, openai_double, call)
    before = await messages(client, alice, conversation["id"])
    requests_before = len(openai_double.requests)
    if isinstance(outputs, list):
        outputs = [item | {"tool_call_id": call.call_id} if item.get("tool_call_id") == "CALL" else item
                   for item in outputs]
    response = await _submit(client, alice, conversation["id"], paused["run_id"], outputs)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    if problem == "mismatch":
        assert error["code"] == "tool_outputs_mismatch"
        assert error["message"].startswith("Submit exactly one output for each pending tool call:")
        assert error["details"]["pending"] == [call.call_id]
    assert await messages(client, alice, conversation["id"]) == before
    assert (await _run(app_state, paused["run_id"])).status == "requires_action"
    assert len(openai_double.requests) == requests_before and await open_reservations(app_state) == []


async def test_the_mismatch_message_names_each_problem(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    one, two = ToolCallScript("get_weather", ["{}"]), ToolCallScript("get_weather", ["{}"])
    conversation, paused = await _paused(client, alice, openai_double, one, two)
    response = await _submit(client, alice, conversation["id"], paused["run_id"], [
        {"tool_call_id": one.call_id, "output": "a"}, {"tool_call_id": one.call_id, "output": "b"},
        {"tool_call_id": "call_nope", "output": "c"}])
    error = response.json()["error"]
    assert error["details"] | {"pending": None} == {"pending": None, "missing": [two.call_id],
                                                    "unknown": ["call_nope"], "duplicate": [one.call_id]}
    assert f"no output for '{two.call_id}'" in error["message"]
    assert "'call_nope' is not waiting for an output" in error["message"]
    assert f"more than one output for '{one.call_id}'" in error["message"]


async def test_untrusted_outputs_are_kept_exactly_and_cut_for_the_model(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    """A long output reaches the model cut at the tool result limit (with a note); odd characters
    (NUL, markup, a fake JSON frame, non-BMP) are stored and replayed as text."""
    short, long = ToolCallScript("get_weather", ["{}"]), ToolCallScript("get_weather", ["{}"])
    conversation, paused = await _paused(client, alice, openai_double, short, long)
    odd = 'nul\x00 <script>alert(1)</script> {"type": "turn_completed"} \U0001f600 \\u0000'
    limit = app_state.settings.chat.tool_output_max_chars
    huge = "y" * (limit + 5_000)
    openai_double.push(Script(text=["Read them."]))
    response = await _submit(client, alice, conversation["id"], paused["run_id"], [
        {"tool_call_id": short.call_id, "output": odd}, {"tool_call_id": long.call_id, "output": huge}])
    assert response.status_code == 200, response.text
    sent = dict(_tool_messages(openai_double.last_request.body))
    assert sent[short.call_id] == odd
    assert sent[long.call_id] == "y" * limit + f"\n[cut: the result was {len(huge)} characters; first {limit} shown]"
    saved = {p["call_id"]: p["output"] for p in (await messages(client, alice, conversation["id"]))[-1]["content"]
             if p["type"] == "tool_call"}
    assert saved == sent


async def test_a_run_that_waits_for_nothing_is_a_409(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    call = ToolCallScript("get_weather", ["{}"])
    conversation, paused = await _paused(client, alice, openai_double, call)
    openai_double.push(Script(text=["Done."]))
    outputs = [{"tool_call_id": call.call_id, "output": "sunny"}]
    assert (await _submit(client, alice, conversation["id"], paused["run_id"], outputs)).status_code == 200
    again = await _submit(client, alice, conversation["id"], paused["run_id"], outputs)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "run_not_waiting" and "completed" in again.json()["error"]["message"]
    # A plain turn's run never waited.
    openai_double.push(Script(text=["Plain."]))
    plain = (await send(client, alice, conversation["id"], "Hello")).json()
    refused = await _submit(client, alice, conversation["id"], plain["run_id"], outputs)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "run_not_waiting"


async def test_a_run_the_conversation_went_past_is_a_409(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    call = ToolCallScript("get_weather", ["{}"])
    conversation, paused = await _paused(client, alice, openai_double, call)
    openai_double.push(Script(text=["Never mind then."]))
    assert (await send(client, alice, conversation["id"], "Forget it")).status_code == 201
    # The new turn's history gave the unanswered call a result that says so.
    assert _tool_messages(openai_double.last_request.body) == [(call.call_id, "No result was given for this call.")]
    before = await messages(client, alice, conversation["id"])
    response = await _submit(client, alice, conversation["id"], paused["run_id"],
                             [{"tool_call_id": call.call_id, "output": "sunny"}])
    assert response.status_code == 409 and response.json()["error"]["code"] == "run_superseded"
    assert await messages(client, alice, conversation["id"]) == before


async def test_another_users_run_is_a_404_and_the_owners_data_is_unchanged(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        app_state: AppState) -> None:
    call = ToolCallScript("get_weather", ["{}"])
    conversation, paused = await _paused(client, alice, openai_double, call)
    run_id = paused["run_id"]
    before = await messages(client, alice, conversation["id"])
    outputs = [{"tool_call_id": call.call_id, "output": "from bob"}]
    _, bobs = await make_chat(client, bob, tools=[function("get_weather")])
    for conversation_id in (conversation["id"], bobs["id"]):  # through alice's conversation, or his own
        response = await _submit(client, bob, conversation_id, run_id, outputs)
        assert response.status_code == 404, response.text
    # Alice's run in another of her conversations, or an unknown or absurd run id: also 404.
    _, other = await make_chat(client, alice)
    for conversation_id, some_run in ((other["id"], run_id), (conversation["id"], "nope"),
                                      (conversation["id"], "r" * 500)):
        assert (await _submit(client, alice, conversation_id, some_run, outputs)).status_code == 404
    assert await messages(client, alice, conversation["id"]) == before
    assert (await _run(app_state, run_id)).status == "requires_action"
    openai_double.push(Script(text=["Fine."]))
    assert (await _submit(client, alice, conversation["id"], run_id, outputs)).status_code == 200


async def test_the_continued_call_is_reserved_first_and_a_budget_refusal_changes_nothing(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    call = ToolCallScript("get_weather", ["{}"])
    conversation, paused = await _paused(client, alice, openai_double, call, parameters={"max_output_tokens": 100})
    limited = await client.patch(f"/api/admin/budgets/users/{alice.id}", headers=alice.headers,
                                 json={"user_daily_tokens": 60})  # 50 used already
    assert limited.status_code == 200, limited.text
    before = await messages(client, alice, conversation["id"])
    requests_before = len(openai_double.requests)
    response = await _submit(client, alice, conversation["id"], paused["run_id"],
                             [{"tool_call_id": call.call_id, "output": "sunny"}])
    assert response.status_code == 402, response.text
    assert response.json()["error"]["code"] == "budget_exceeded"
    assert len(openai_double.requests) == requests_before
    assert await messages(client, alice, conversation["id"]) == before
    assert (await _run(app_state, paused["run_id"])).status == "requires_action"
    assert await open_reservations(app_state) == []


async def test_the_continued_turn_streams_over_sse(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    call = ToolCallScript("get_weather", ["{}"])
    conversation, paused = await _paused(client, alice, openai_double, call)
    openai_double.push(Script(text=["Sun", "ny."]))
    async with client.stream("POST", _submit_url(conversation["id"], paused["run_id"]),
                             headers=alice.headers | {"Accept": "text/event-stream"},
                             json={"tool_outputs": [{"tool_call_id": call.call_id, "output": "sunny"}]}) as response:
        assert response.status_code == 200
        events = [event async for event in sse_events(response)]
    assert events[0].type == "turn_started" and events[-1].type == "turn_completed"
    started = events[0].data
    assert started["run_id"] == paused["run_id"] and started["user_message"] is None
    assert started["assistant_message"]["id"] == paused["assistant_message"]["id"]
    assert started["assistant_message"]["status"] == "streaming"
    part = next(p for p in started["assistant_message"]["content"] if p["type"] == "tool_call")
    assert (part["status"], part["output"]) == ("complete", "sunny")
    assert "".join(e.data["text"] for e in events if e.type == "text_delta") == "Sunny."
    assert events[-1].data["message"]["text"] == "Checking.Sunny."
    assert (events[-1].data["run_id"], events[-1].data["run_status"]) == (paused["run_id"], "completed")


async def test_the_continued_turn_streams_over_the_websocket(
        live_client: httpx.AsyncClient, live_server: str, alice: UserSession, bob: UserSession,
        openai_double: OpenAIDouble) -> None:
    call = ToolCallScript("get_weather", ["{}"])
    conversation, paused = await _paused(live_client, alice, openai_double, call)
    frame = {"type": "submit_tool_outputs", "conversation_id": conversation["id"], "run_id": paused["run_id"],
             "tool_outputs": [{"tool_call_id": call.call_id, "output": "sunny"}], "request_id": "t1"}
    async with await authed(live_server, bob) as ws:  # another user's run: the frame is refused
        await ws.send(json.dumps(frame))
        refused = await recv_until(ws, lambda f: f["type"] == "error")
        assert refused[-1]["error"]["code"] == "not_found"
    async with await authed(live_server, alice) as ws:
        await ws.send(json.dumps(frame | {"tool_outputs": [{"tool_call_id": "call_x", "output": "sunny"}]}))
        mismatch = await recv_until(ws, lambda f: f["type"] == "error")
        assert mismatch[-1]["error"]["code"] == "tool_outputs_mismatch"
        await ws.send(json.dumps(frame | {"tool_outputs": [{"tool_call_id": call.call_id, "output": 1}]}))
        assert (await recv_until(ws, lambda f: f["type"] == "error"))[-1]["error"]["code"] == "validation_error"
        openai_double.push(Script(text=["Sunny."]))
        await ws.send(json.dumps(frame))
        frames = await recv_until(ws, lambda f: f.get("event", {}).get("type") == "turn_completed")
    assert {"type": "ack", "request_id": "t1", "of": "submit_tool_outputs",
            "conversation_id": conversation["id"]} in frames
    events = [f["event"] for f in frames if f["type"] == "event"]
    assert events[0]["type"] == "turn_started" and events[0]["run_id"] == paused["run_id"]
    assert events[-1]["message"]["text"] == "Checking.Sunny."


async def test_stop_during_the_continued_turn_keeps_the_outputs(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    call = ToolCallScript("get_weather", ["{}"])
    conversation, paused = await _paused(client, alice, openai_double, call)
    openai_double.push(Script(text=["Sun", "ny"], stall_after=1, stall_seconds=30))
    submit = asyncio.create_task(_submit(client, alice, conversation["id"], paused["run_id"],
                                         [{"tool_call_id": call.call_id, "output": "sunny"}]))

    async def streaming() -> bool:
        return (await messages(client, alice, conversation["id"]))[-1]["status"] == "streaming"
    assert await eventually(streaming)
    async for _, event in app_state.bus.subscribe(conversation["id"]):
        if event["type"] == "text_delta":
            break
    stopped = await client.post(f"/api/conversations/{conversation['id']}/stop", headers=alice.headers)
    assert stopped.json() == {"stopped": True}
    answer = (await submit).json()["assistant_message"]
    assert answer["status"] == "stopped" and answer["text"] == "Checking.Sun"
    part = next(p for p in answer["content"] if p["type"] == "tool_call")
    assert (part["status"], part["output"]) == ("complete", "sunny")
    run = await _run(app_state, paused["run_id"])
    assert (run.status, run.ended_by, run.rounds) == ("cancelled", "user", 2)
    assert await open_reservations(app_state) == []
    openai_double.push(Script(text=["OK."]))
    await send(client, alice, conversation["id"], "Go on")
    assert _tool_messages(openai_double.last_request.body) == [(call.call_id, "sunny")]
