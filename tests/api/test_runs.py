"""Runs: the multi-step tool loop through the HTTP API, against the OpenAI double on both protocols
(``double``: Chat Completions, ``openai``: Responses), with in-process tools (tests/tools/scripted)."""

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
from tests.api.chat_helpers import eventually, make_chat, messages, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script, ToolCallScript
from tests.tools.scripted import function, scripted_functions

MODELS = ["double/gpt-4o-mini", "openai/gpt-4o-mini"]


async def _runs(state: AppState) -> list[Run]:
    async with state.sessions() as session:
        return list((await session.execute(select(Run).order_by(Run.created_at))).scalars())


async def _steps(state: AppState, run_id: str) -> list[RunStep]:
    async with state.sessions() as session:
        rows = await session.execute(select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.step_index))
        return list(rows.scalars())


def _tool_messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(call id, output) of every tool result in a recorded request, on either protocol."""
    if "messages" in body:
        return [(m["tool_call_id"], m["content"]) for m in body["messages"] if m["role"] == "tool"]
    return [(i["call_id"], i["output"]) for i in body["input"] if i.get("type") == "function_call_output"]


async def _titled_chat(client: httpx.AsyncClient, user: UserSession, model: str, *tools: str,
                       **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    assistant, conversation = await make_chat(client, user, model=model, tools=[function(t) for t in tools], **fields)
    await client.patch(f"/api/conversations/{conversation['id']}", headers=user.headers, json={"title": "Fixed"})
    return assistant, conversation


async def _tool_finished(state: AppState, conversation_id: str, name: str) -> None:
    async for _, event in state.bus.subscribe(conversation_id):
        if event["type"] == "tool_call_updated" and event["part"]["name"] == name and \
                event["part"]["status"] == "complete":
            return


@pytest.mark.parametrize("model", MODELS)
async def test_a_tool_round_then_the_answer(client: httpx.AsyncClient, alice: UserSession,
                                            openai_double: OpenAIDouble, app_state: AppState, model: str) -> None:
    call = ToolCallScript("add", ['{"a": 2', ', "b": 40}'])
    openai_double.push(Script(text=["Let me add."], tool_calls=[call], input_tokens=40, output_tokens=12),
                       Script(text=["It is ", "42."], input_tokens=60, output_tokens=4))
    with scripted_functions(app_state.tools) as tools:
        _, conversation = await _titled_chat(client, alice, model, "add")
        response = await send(client, alice, conversation["id"], "What is 2 + 40?")
    assert response.status_code == 201, response.text
    answer = response.json()["assistant_message"]
    assert answer["status"] == "complete"
    assert answer["text"] == "Let me add.It is 42."
    kinds = [part["type"] for part in answer["content"]]
    assert kinds == ["text", "tool_call", "text"]
    tool_part = answer["content"][1]
    assert tool_part | {"duration_ms": 0} == tool_part | {
        "call_id": call.call_id, "name": "add", "arguments": '{"a": 2, "b": 40}', "status": "complete",
        "output": "42", "is_error": False, "round": 0, "duration_ms": 0}
    # The tool ran once, for this user and conversation; the second request carried its result.
    assert [(name, args) for name, args, _ in tools.log] == [("add", {"a": 2, "b": 40})]
    assert tools.log[0][2].user_id == alice.id and tools.log[0][2].conversation_id == conversation["id"]
    first, second = openai_double.requests[-2:]
    assert _tool_messages(second.body) == [(call.call_id, "42")]
    assert first.body["tools"] and "tool_choice" not in first.body
    # Usage: both model calls, priced, pointing to the run; the answer's cost is their sum.
    runs = await _runs(app_state)
    assert [(r.status, r.rounds, r.ended_by) for r in runs] == [("completed", 2, "answer")]
    records = await usage_records(app_state, run_id=runs[0].id)
    assert sorted(r.kind for r in records) == ["chat", "chat", "tool"]
    assert answer["cost_micros"] == sum(r.cost_micros for r in records) == runs[0].cost_micros > 0
    assert answer["usage"]["input_tokens"] == 100 and answer["usage"]["rounds"] == 2
    steps = await _steps(app_state, runs[0].id)
    assert [(s.step_index, s.kind) for s in steps] == [(0, "model_call"), (1, "tool_calls")]
    assert await open_reservations(app_state) == []
    # The history replays the call and its result to the model on the next turn.
    openai_double.push(Script(text=["Sure."]))
    await send(client, alice, conversation["id"], "Thanks")
    assert _tool_messages(openai_double.last_request.body) == [(call.call_id, "42")]


@pytest.mark.parametrize("model", MODELS)
async def test_parallel_calls_run_concurrently_and_errors_go_to_the_model(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState,
        model: str) -> None:
    calls = [ToolCallScript("gate_a", ["{}"]), ToolCallScript("gate_b", ["{}"]), ToolCallScript("fail", ["{}"]),
             ToolCallScript("slow", ["{}"]), ToolCallScript("broken", ["{}"]), ToolCallScript("nope", ["{}"]),
             ToolCallScript("add", ['{"a": "x"']),]
    openai_double.push(Script(tool_calls=calls), Script(text=["Done."]))
    with scripted_functions(app_state.tools):
        _, conversation = await _titled_chat(client, alice, model, "gate_a", "gate_b", "fail", "slow", "broken", "add")
        response = await send(client, alice, conversation["id"], "Go")
    answer = response.json()["assistant_message"]
    assert answer["status"] == "complete" and answer["text"] == "Done."
    results = {part["name"]: part for part in answer["content"] if part["type"] == "tool_call"}
    # Each gate waits for the other: both passing proves they ran at the same time.
    assert results["gate_a"]["output"] == "gate_a passed" and results["gate_b"]["output"] == "gate_b passed"
    assert results["fail"]["is_error"] and results["fail"]["output"] == "the upstream service said no"
    assert results["slow"]["status"] == "failed" and "timed out after 0.2 s" in results["slow"]["output"]
    assert results["broken"]["output"] == "The tool 'broken' failed: ZeroDivisionError."
    assert results["nope"]["output"].startswith("There is no tool named 'nope'")
    assert "not valid JSON" in results["add"]["output"]
    sent = dict(_tool_messages(openai_double.last_request.body))
    assert len(sent) == len(calls) and sent[calls[2].call_id] == "the upstream service said no"


@pytest.mark.parametrize("model", MODELS)
async def test_the_round_limit_ends_the_run_with_an_answer(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState,
        model: str) -> None:
    rounds = app_state.settings.chat.max_rounds
    openai_double.push(*[Script(tool_calls=[ToolCallScript("add", ['{"a": 1, "b": 1}'])]) for _ in range(rounds - 1)],
                       Script(text=["I give up adding."]))
    with scripted_functions(app_state.tools) as tools:
        _, conversation = await _titled_chat(client, alice, model, "add")
        answer = (await send(client, alice, conversation["id"], "Add forever")).json()["assistant_message"]
    assert answer["status"] == "complete" and answer["text"] == "I give up adding."
    assert len(tools.log) == rounds - 1
    last = openai_double.requests[-1].body
    assert last["tool_choice"] == "none"
    assert all("tool_choice" not in r.body for r in openai_double.requests[-rounds:-1])
    run = (await _runs(app_state))[0]
    assert (run.status, run.rounds, run.ended_by) == ("completed", rounds, "max_rounds")


async def test_stop_during_a_tool_saves_what_was_done(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    openai_double.push(Script(text=["Checking."], tool_calls=[ToolCallScript("gate_a", ['{"hang": true}']),
                                                               ToolCallScript("add", ['{"a": 1, "b": 2}'])]))
    with scripted_functions(app_state.tools) as tools:
        tools.gates["gate_b"].set()  # gate_a passes its gate, then hangs
        _, conversation = await _titled_chat(client, alice, "double/gpt-4o-mini", "gate_a", "add")
        stream = asyncio.create_task(send(client, alice, conversation["id"], "Go"))
        await asyncio.wait_for(tools.started.wait(), 10)
        await asyncio.wait_for(_tool_finished(app_state, conversation["id"], "add"), 10)
        stopped = await client.post(f"/api/conversations/{conversation['id']}/stop", headers=alice.headers)
        assert stopped.json() == {"stopped": True}
        answer = (await stream).json()["assistant_message"]
    assert answer["status"] == "stopped"
    results = {part["name"]: part for part in answer["content"] if part["type"] == "tool_call"}
    assert results["gate_a"]["status"] == "stopped" and results["gate_a"]["is_error"]
    assert results["add"]["output"] == "3"
    assert [m["status"] for m in await messages(client, alice, conversation["id"])] == ["complete", "stopped"]
    run = (await _runs(app_state))[0]
    assert (run.status, run.ended_by) == ("cancelled", "user")
    assert await open_reservations(app_state) == []
    # Every call has a result in the history the model reads next, the stopped one included.
    openai_double.push(Script(text=["OK."]))
    await send(client, alice, conversation["id"], "And now?")
    outputs = [output for _, output in _tool_messages(openai_double.last_request.body)]
    assert outputs == ["The call was stopped before it finished.", "3"]


async def test_a_budget_used_up_between_rounds_ends_the_run_without_overspending(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    limit = 1000
    openai_double.push(Script(tool_calls=[ToolCallScript("add", ['{"a": 1, "b": 2}'])], input_tokens=900,
                              output_tokens=10))
    with scripted_functions(app_state.tools) as tools:
        _, conversation = await _titled_chat(client, alice, "double/gpt-4o-mini", "add",
                                             parameters={"max_output_tokens": 100})
        response = await client.patch(f"/api/admin/budgets/users/{alice.id}", headers=alice.headers,
                                      json={"user_daily_tokens": limit})
        assert response.status_code == 200, response.text
        answer = (await send(client, alice, conversation["id"], "Add")).json()["assistant_message"]
    assert len(tools.log) == 1  # the tool ran; the next model call was refused before it was made
    assert answer["status"] == "failed"
    assert answer["error"]["code"] == "budget_exceeded"
    assert "before round 2" in answer["error"]["message"]
    assert [p["type"] for p in answer["content"]] == ["tool_call"]
    run = (await _runs(app_state))[0]
    assert (run.status, run.ended_by) == ("incomplete", "budget")
    spent = sum(r.input_tokens + r.output_tokens for r in await usage_records(app_state))
    assert spent == 910 <= limit
    assert await open_reservations(app_state) == []


async def test_tool_fees_are_priced_and_recorded(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        app_state: AppState) -> None:
    openai_double.push(Script(tool_calls=[ToolCallScript("paid_search", ["{}"])]), Script(text=["Found it."]))
    with scripted_functions(app_state.tools):
        _, conversation = await _titled_chat(client, alice, "double/gpt-4o-mini", "paid_search")
        answer = (await send(client, alice, conversation["id"], "Search")).json()["assistant_message"]
    tool_part = next(p for p in answer["content"] if p["type"] == "tool_call")
    assert tool_part["cost_micros"] == 10_000  # $10 per 1,000 calls
    assert tool_part["result_parts"] == [{"type": "citation", "title": "Example", "url": "https://example.com/"}]
    records = [r for r in await usage_records(app_state, kind="tool")]
    assert [(r.tool, r.cost_micros, r.tool_calls) for r in records] == [("paid_search", 10_000, 1)]
    assert answer["cost_micros"] == sum(r.cost_micros for r in await usage_records(app_state))
    # The usage report's tools view: calls and fees by tool, the owner's only.
    report = (await client.get("/api/usage", params={"group_by": "tool"}, headers=alice.headers)).json()
    assert [(g["key"], g["calls"], g["cost_micros"]) for g in report["data"]] == [("paid_search", 1, 10_000)]
    other = (await client.get("/api/usage", params={"group_by": "tool"}, headers=bob.headers)).json()
    assert other["data"] == []
    csv = (await client.get("/api/usage/export.csv", params={"kind": "tool"}, headers=alice.headers)).text
    header, row = csv.strip().splitlines()
    assert header.endswith("run_id,step_index,tool") and row.endswith(",1,paid_search")


async def test_a_model_without_tool_calling_answers_without_them(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    openai_double.push(Script(text=["Plain answer."]))
    with scripted_functions(app_state.tools) as tools:
        _, conversation = await _titled_chat(client, alice, "double/no-tools", "add")
        answer = (await send(client, alice, conversation["id"], "Add")).json()["assistant_message"]
    assert answer["status"] == "complete" and answer["text"] == "Plain answer." and tools.log == []
    assert answer["content"][0] == {"type": "notice", "code": "tools_unavailable",
                                    "message": "double/no-tools cannot call tools, so it answers without them."}
    assert "tools" not in openai_double.requests[-1].body


async def test_a_tool_this_server_cannot_run_is_left_out_with_a_notice(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    """A run says in the answer that a tool was left out (here: web search, with no provider set up)."""
    openai_double.push(Script(text=["Plain answer."]))
    _, conversation = await make_chat(client, alice, tools=[{"type": "web_search"}])
    answer = (await send(client, alice, conversation["id"], "Search")).json()["assistant_message"]
    assert answer["status"] == "complete" and answer["text"] == "Plain answer."
    notices = [p for p in answer["content"] if p["type"] == "notice"]
    assert notices == [{"type": "notice", "code": "tool_skipped",
                        "message": "The web_search tool is left out: web search is not set up on this server "
                                   "(an admin sets WEB_SEARCH__PROVIDER)."}]
    assert "tools" not in openai_double.requests[0].body


async def test_follow_the_steps_live_over_sse(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    from tests.api.chat_helpers import sse_events

    call = ToolCallScript("add", ['{"a": 1,', ' "b": 1}'])
    openai_double.push(Script(tool_calls=[call]), Script(text=["Two."]))
    with scripted_functions(app_state.tools):
        _, conversation = await _titled_chat(client, alice, "double/gpt-4o-mini", "add")
        async with client.stream("POST", f"/api/conversations/{conversation['id']}/messages",
                                 headers=alice.headers | {"Accept": "text/event-stream"},
                                 json={"content": "1+1"}) as response:
            events = [event async for event in sse_events(response)]
    types = [e.type for e in events]
    assert types[0] == "turn_started" and types[-1] == "turn_completed"
    assert types.index("tool_call_started") < types.index("tool_call_delta") < types.index("tool_call_updated")
    updates = [e.data["part"] for e in events if e.type == "tool_call_updated"]
    assert [u["status"] for u in updates] == ["running", "complete"] and updates[-1]["output"] == "2"
    deltas = "".join(e.data["arguments_delta"] for e in events if e.type == "tool_call_delta")
    assert json.loads(deltas) == {"a": 1, "b": 1}
    finished = [(e.data["index"], e.data["kind"]) for e in events if e.type == "step_finished"]
    assert finished == [(0, "model_call"), (1, "tool_calls")]


async def test_a_reload_mid_run_shows_the_steps_so_far(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    openai_double.push(Script(tool_calls=[ToolCallScript("gate_a", ["{}"])]), Script(text=["Done."]))
    with scripted_functions(app_state.tools) as tools:
        _, conversation = await _titled_chat(client, alice, "double/gpt-4o-mini", "gate_a")
        stream = asyncio.create_task(send(client, alice, conversation["id"], "Go"))
        await asyncio.wait_for(tools.started.wait(), 10)

        async def saved_running_call() -> list[dict[str, Any]]:
            answer = (await messages(client, alice, conversation["id"]))[-1]
            return [p for p in answer["content"] if p["type"] == "tool_call" and p["status"] == "running"]
        assert await eventually(saved_running_call)
        tools.gates["gate_b"].set()
        answer = (await stream).json()["assistant_message"]
    assert answer["status"] == "complete"


async def test_the_code_interpreter_runs_model_written_code_in_the_sandbox(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    """Through the run loop and the real sandbox: a variable set in one call is there in the next."""
    openai_double.push(
        Script(tool_calls=[ToolCallScript("code_interpreter", [json.dumps({"code": "x = 6 * 7\nprint('set')"})])]),
        Script(tool_calls=[ToolCallScript("code_interpreter", [json.dumps({"code": "x + 0"})])]),
        Script(text=["It is 42."]))
    _, conversation = await make_chat(client, alice, tools=[{"type": "code_interpreter"}])
    answer = (await send(client, alice, conversation["id"], "Compute")).json()["assistant_message"]
    assert answer["status"] == "complete", answer
    calls = [p for p in answer["content"] if p["type"] == "tool_call"]
    assert [c["status"] for c in calls] == ["complete", "complete"]
    assert "set" in calls[0]["output"] and "42" in calls[1]["output"]
    # Free until an admin sets a price for the self-hosted interpreter.
    assert [r.cost_micros for r in await usage_records(app_state, kind="tool")] == [0, 0]
    # The CPU seconds each call used are recorded on its run step (and on the call).
    [run] = await _runs(app_state)
    tool_steps = [s for s in await _steps(app_state, run.id) if s.kind == "tool_calls"]
    assert len(tool_steps) == 2
    for step, call in zip(tool_steps, calls, strict=True):
        [recorded] = step.details["calls"]
        assert isinstance(recorded["cpu_seconds"], float) and recorded["cpu_seconds"] >= 0
        assert step.details["cpu_seconds"] == round(recorded["cpu_seconds"], 3) == round(call["cpu_seconds"], 3)


async def test_the_code_interpreter_charts_an_uploaded_csv_and_the_chart_is_the_owners_file(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        app_state: AppState) -> None:
    """The seed's scenario: sales.csv attached, the model's code plots it, the PNG is served to the owner only."""
    from tests.api.files_helpers import uploaded

    csv = b"month,revenue\n2026-01,120\n2026-02,150\n2026-03,90\n"
    sales = await uploaded(client, alice, "sales.csv", csv)
    code = ("import pandas as pd, matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
            "df = pd.read_csv('/mnt/data/sales.csv')\ndf.plot(x='month', y='revenue', kind='bar')\n"
            "plt.savefig('/mnt/data/revenue.png')\nprint(df['revenue'].sum())")
    openai_double.push(Script(tool_calls=[ToolCallScript("code_interpreter", [json.dumps({"code": code})])]),
                       Script(text=["Here is the chart."]), Script(text=["Sales"]))
    _, conversation = await make_chat(client, alice, tools=[{"type": "code_interpreter"}])
    response = await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                                 json={"content": "Plot revenue by month", "file_ids": [sales["id"]]})
    answer = response.json()["assistant_message"]
    call = next(p for p in answer["content"] if p["type"] == "tool_call")
    assert call["status"] == "complete", call
    assert "360" in call["output"]
    charts = [p for p in call["result_parts"] if p["type"] == "file" and p["name"] == "revenue.png"]
    assert len(charts) == 1 and charts[0]["kind"] == "image"
    # the saved figure is not saved again as chart-1.png (it showed twice in the chat)
    assert [p["name"] for p in call["result_parts"] if p["type"] == "file"] == ["revenue.png"]
    chart_id = charts[0]["file_id"]
    mine = await client.get(f"/api/files/{chart_id}/content", headers=alice.headers)
    assert mine.status_code == 200 and mine.content.startswith(b"\x89PNG")
    assert (await client.get(f"/api/files/{chart_id}/content", headers=bob.headers)).status_code == 404
    assert (await client.get(f"/api/files/{chart_id}", headers=bob.headers)).status_code == 404


async def test_a_restarted_code_session_is_marked_on_the_stored_tool_call(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble) -> None:
    """The session state is data on the call (for the tool card), and the model reads it too."""
    openai_double.push(
        Script(tool_calls=[ToolCallScript("code_interpreter", [json.dumps({"code": "x = 1"})])]),
        Script(tool_calls=[ToolCallScript("code_interpreter", [json.dumps({"code": "import os\nos._exit(3)"})])]),
        Script(tool_calls=[ToolCallScript("code_interpreter", [json.dumps({"code": "'x' in globals()"})])]),
        Script(text=["x is gone."]), Script(text=["Restart"]))
    _, conversation = await make_chat(client, alice, tools=[{"type": "code_interpreter"}])
    assert (await send(client, alice, conversation["id"], "Go")).status_code == 201
    [answer] = [m for m in await messages(client, alice, conversation["id"]) if m["role"] == "assistant"]
    first, crashed, fresh = [p for p in answer["content"] if p["type"] == "tool_call"]
    assert first.get("session_restarted") is None and first.get("session_ended") is None
    assert crashed["session_ended"] == "the Python process exited (status 3)" and crashed["status"] == "failed"
    assert fresh["session_restarted"] == "the Python process exited (status 3)"
    assert fresh.get("session_ended") is None and fresh["status"] == "complete"
    assert fresh["output"].startswith("[New Python session: the previous one ended because the Python process "
                                      "exited (status 3). Variables from earlier calls are gone")
    read = [_tool_messages(r.body) for r in openai_double.requests if _tool_messages(r.body)]
    assert read[-1][-1][1] == fresh["output"]  # what the model read for the call
