"""OpenAI's hosted tools in a run, through the HTTP API against the OpenAI double: the provider runs
web search (file search, the code interpreter) inside its model call; the run records each call as a
step with its fee, the answer shows the calls and the citations, and nothing hosted reaches a provider
that is not OpenAI's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import select

from agentcreator.core.config import HostedToolSettings
from agentcreator.db.models import Run, RunStep
from agentcreator.llm import ModelSpec, ProviderConfig
from agentcreator.state import AppState
from agentcreator.tools.hosted import HostedToolPolicy
from tests.api.billing_helpers import ledger, open_reservations, usage_records
from tests.api.chat_helpers import make_chat, messages, send, sse_events
from tests.conftest import UserSession
from tests.llm.helpers import wait_for_thread_event
from tests.llm.openai_double import HostedCallScript, OpenAIDouble, Script
from tests.tools.scripted import scripted_functions

SOURCE = "https://meteo.example/paris"
SHARED_STORE = "vs_shared_policies"


@contextmanager
def hosted_enabled(state: AppState, *kinds: str, stores: tuple[str, ...] = (SHARED_STORE,)) -> Iterator[None]:
    """What an admin's HOSTED_TOOLS__ENABLED / __VECTOR_STORE_IDS would set, for one test."""
    before_policy, before_settings = state.tools.hosted, state.settings.hosted_tools
    kinds = kinds or ("web_search", "file_search", "code_interpreter")
    state.tools.hosted = HostedToolPolicy(frozenset(kinds), frozenset(stores), max_calls_per_round=4)
    state.settings.hosted_tools = HostedToolSettings(enabled=list(kinds), vector_store_ids=list(stores))  # type: ignore[arg-type]
    try:
        yield
    finally:
        state.tools.hosted, state.settings.hosted_tools = before_policy, before_settings


async def _chat(client: httpx.AsyncClient, user: UserSession, tools: list[dict[str, Any]],
                model: str = "openai/gpt-4o-mini") -> tuple[dict[str, Any], dict[str, Any]]:
    """An assistant with ``tools`` and a conversation that has its title (no title call after the turn)."""
    assistant, conversation = await make_chat(client, user, model=model, tools=tools)
    await client.patch(f"/api/conversations/{conversation['id']}", headers=user.headers, json={"title": "Fixed"})
    return assistant, conversation


def _hosted_types(body: dict[str, Any]) -> list[str]:
    return [tool["type"] for tool in body.get("tools") or [] if tool["type"] != "function"]


async def _steps(state: AppState, run_id: str) -> list[RunStep]:
    async with state.sessions() as session:
        rows = await session.execute(select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.step_index))
        return list(rows.scalars())


async def _run(state: AppState) -> Run:
    async with state.sessions() as session:
        return (await session.execute(select(Run))).scalars().one()


async def test_a_hosted_web_search_is_a_priced_step_with_citations_under_the_answer(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        app_state: AppState) -> None:
    search = HostedCallScript("web_search", query="weather paris", sources=[SOURCE])
    openai_double.push(Script(hosted_calls=[search], text=["Sunny in Paris."], citations=[(SOURCE, "Paris weather")],
                              input_tokens=50, output_tokens=5))
    with hosted_enabled(app_state, "web_search"):
        _, conversation = await _chat(client, alice, tools=[{"type": "web_search"}])
        response = await send(client, alice, conversation["id"], "Weather in Paris?")
    assert response.status_code == 201, response.text
    answer = response.json()["assistant_message"]
    assert answer["status"] == "complete" and answer["text"] == "Sunny in Paris."
    # The request asked OpenAI to run the search (and for its sources), with no function of ours.
    body = openai_double.last_request.body
    assert body["tools"] == [{"type": "web_search"}] and body["max_tool_calls"] == 4
    assert body["include"] == ["web_search_call.action.sources"]
    assert len(openai_double.requests) == 1  # one model call: the search ran inside it
    # The answer: the call (before the text), the text, the citation under it.
    assert [part["type"] for part in answer["content"]] == ["tool_call", "text", "citation"]
    call = answer["content"][0]
    assert call["hosted"] is True and call["name"] == "web_search" and call["status"] == "complete"
    assert call["call_id"] == search.item_id
    assert json.loads(call["arguments"])["query"] == "weather paris"
    assert call["result_parts"] == [{"type": "citation", "url": SOURCE, "title": SOURCE}]
    assert call["cost_micros"] == 10_000  # the seeded fee: $10 per 1,000 web searches
    citation = answer["content"][2]
    assert (citation["title"], citation["url"], citation["file_id"]) == ("Paris weather", SOURCE, None)
    # Usage: the model call and the search's fee, both pointing to the run; the answer costs their sum.
    run = await _run(app_state)
    assert (run.status, run.rounds, run.ended_by) == ("completed", 1, "answer")
    records = await usage_records(app_state, run_id=run.id)
    fees = [r for r in records if r.kind == "tool"]
    assert [(r.tool, r.model, r.cost_micros, r.tool_calls, r.step_index) for r in fees] == [
        ("openai:web_search", "web_search", 10_000, 1, 0)]
    assert sorted(r.kind for r in records) == ["chat", "tool"]
    assert answer["cost_micros"] == run.cost_micros == sum(r.cost_micros for r in records) > 10_000
    assert answer["usage"]["tool_calls"] == 1
    steps = await _steps(app_state, run.id)
    assert [(s.step_index, s.kind, s.cost_micros) for s in steps] == [(0, "tool_calls", 10_000)]
    assert steps[0].details["hosted"] is True and steps[0].details["calls"][0]["name"] == "web_search"
    assert await open_reservations(app_state) == []  # the fee hold was settled with the round
    day = (await ledger(app_state))[("user_day", alice.id)]  # the budgets count the fee, nothing held
    assert (day.spent_micros, day.reserved_micros) == (answer["cost_micros"], 0)
    # The tools view: the owner sees the hosted search; another user sees nothing of it.
    report = (await client.get("/api/usage", params={"group_by": "tool"}, headers=alice.headers)).json()
    assert [(g["key"], g["calls"], g["cost_micros"]) for g in report["data"]] == [("openai:web_search", 1, 10_000)]
    other = (await client.get("/api/usage", params={"group_by": "tool"}, headers=bob.headers)).json()
    assert other["data"] == []
    # A reload shows the same parts; the next turn's history does not replay the hosted call.
    saved = (await messages(client, alice, conversation["id"]))[-1]
    assert saved["content"] == answer["content"]
    assert (await client.get(f"/api/conversations/{conversation['id']}/messages",
                             headers=bob.headers)).status_code == 404
    openai_double.push(Script(text=["You are welcome."]))
    with hosted_enabled(app_state, "web_search"):
        await send(client, alice, conversation["id"], "Thanks")
    replay = openai_double.last_request.body["input"]
    assert not [item for item in replay if item.get("type") in ("function_call", "function_call_output")]
    assert {"type": "message", "role": "assistant", "content": "Sunny in Paris."} in replay


async def test_hosted_calls_stream_as_tool_call_events(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    search = HostedCallScript("web_search", query="news", sources=[SOURCE])
    openai_double.push(Script(hosted_calls=[search], text=["News."]))
    with hosted_enabled(app_state, "web_search"):
        _, conversation = await _chat(client, alice, tools=[{"type": "web_search"}])
        async with client.stream("POST", f"/api/conversations/{conversation['id']}/messages",
                                 headers=alice.headers | {"Accept": "text/event-stream"},
                                 json={"content": "News?"}) as response:
            events = [event async for event in sse_events(response)]
    types = [e.type for e in events]
    assert types[0] == "turn_started" and "turn_completed" in types
    assert types.index("tool_call_started") < types.index("tool_call_updated") < types.index("text_delta") \
        < types.index("step_finished")
    started = next(e.data for e in events if e.type == "tool_call_started")
    assert (started["call_id"], started["name"], started["round"]) == (search.item_id, "web_search", 0)
    updates = [e.data for e in events if e.type == "tool_call_updated"]
    assert [u["part"]["status"] for u in updates] == ["running", "running", "running", "complete", "complete"]
    assert updates[0]["activity"] == "Searching the web…" and updates[-1]["activity"] is None
    assert updates[-1]["part"]["hosted"] is True and updates[-1]["part"]["output"] == "Searched: news (1 sources)"
    finished = [(e.data["kind"], e.data["cost_micros"]) for e in events if e.type == "step_finished"]
    assert finished == [("tool_calls", 10_000)]


async def test_hosting_choice_per_tool_config(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    """auto: hosted when enabled; server: never hosted; provider: left out with a reason when it cannot be."""
    tools = [{"type": "web_search", "hosting": "server"}, {"type": "code_interpreter", "hosting": "provider"},
             {"type": "file_search", "vector_store_ids": [SHARED_STORE]}]
    openai_double.push(Script(text=["a"]), Script(text=["b"]))
    with hosted_enabled(app_state, "file_search"):  # the admin enabled hosted file search only
        assistant, conversation = await _chat(client, alice, tools=tools)
        assert [{k: v for k, v in t.items() if k in ("type", "hosting", "vector_store_ids")}
                for t in assistant["tools"]] == tools  # "auto" is the default and left out
        answer = (await send(client, alice, conversation["id"], "Go")).json()["assistant_message"]
    body = openai_double.last_request.body
    assert _hosted_types(body) == ["file_search"]
    assert body["tools"][-1] == {"type": "file_search", "vector_store_ids": [SHARED_STORE]}
    notices = [p["message"] for p in answer["content"] if p["type"] == "notice"]
    assert "The code_interpreter tool is left out: hosted tools are not enabled on this server " \
           "(an admin sets HOSTED_TOOLS__ENABLED)." in notices
    # Nothing enabled: "auto" runs on this server (here web search has no provider: left out, said so).
    with hosted_enabled(app_state, "code_interpreter"):
        _, other = await _chat(client, alice, tools=[{"type": "web_search"}])
        answer = (await send(client, alice, other["id"], "Go")).json()["assistant_message"]
    assert _hosted_types(openai_double.last_request.body) == []
    assert any("WEB_SEARCH__PROVIDER" in p["message"] for p in answer["content"] if p["type"] == "notice")


async def test_a_provider_that_is_not_openai_never_gets_hosted_tools(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    """A Chat Completions provider whose model declares every hosted tool (as LLM__COMPATIBLE_ENDPOINTS
    can), with all of them enabled and asked for: none is sent (the registry asks the provider what its
    protocol can send)."""
    await app_state.models.replace([ProviderConfig(
        name="lab", kind="openai_compatible", base_url=openai_double.base_url, discover=False,
        models=[ModelSpec(name="gpt-4o-mini", tools=True, hosted_tools=["web_search", "file_search", "code_interpreter"])])])
    try:
        models = (await client.get("/api/models", headers=alice.headers)).json()["data"]
        assert next(m for m in models if m["id"] == "lab/gpt-4o-mini")["hosted_tools"] == [
            "web_search", "file_search", "code_interpreter"]
        openai_double.push(Script(text=["plain"]))
        with hosted_enabled(app_state), scripted_functions(app_state.tools):
            _, conversation = await _chat(client, alice, model="lab/gpt-4o-mini", tools=[
                {"type": "web_search", "hosting": "provider"}, {"type": "code_interpreter", "hosting": "provider"},
                {"type": "file_search", "vector_store_ids": [SHARED_STORE], "hosting": "provider"},
                {"type": "function", "name": "add", "parameters": {"type": "object", "properties": {}}}])
            answer = (await send(client, alice, conversation["id"], "Go")).json()["assistant_message"]
    finally:
        await app_state.providers.reload()  # the providers of the settings and the database again
    assert answer["status"] == "complete" and answer["text"] == "plain"
    body = openai_double.last_request.body
    assert "messages" in body and _hosted_types(body) == [] and "include" not in body
    assert [t["function"]["name"] for t in body["tools"]] == ["add"]
    reasons = {p["message"] for p in answer["content"] if p["type"] == "notice"}
    assert {f"The {kind} tool is left out: the assistant's model cannot run it on its provider."
            for kind in ("web_search", "code_interpreter", "file_search")} <= reasons


async def test_a_vector_store_the_admin_does_not_share_is_refused_and_another_user_cannot_see_or_change_it(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState) -> None:
    with hosted_enabled(app_state, "file_search"):
        refused = await client.post("/api/assistants", headers=alice.headers, json={
            "name": "A", "model": "openai/gpt-4o-mini",
            "tools": [{"type": "file_search", "vector_store_ids": ["vs_someone_elses"]}]})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"][0]["loc"] == ["body", "tools", 0, "vector_store_ids", 0]
        bad = await client.post("/api/assistants", headers=alice.headers, json={
            "name": "A", "model": "openai/gpt-4o-mini",
            "tools": [{"type": "file_search", "vector_store_ids": ["not-a-store"]},
                      {"type": "web_search", "hosting": "elsewhere"}]})
        assert bad.status_code == 422
        assistant, _ = await _chat(client, alice, tools=[{"type": "file_search", "vector_store_ids": [SHARED_STORE]}])
        url = f"/api/assistants/{assistant['id']}"
        assert (await client.get(url, headers=bob.headers)).status_code == 404
        changed = await client.patch(url, headers=bob.headers, json={"tools": [{"type": "web_search"}]})
        assert changed.status_code == 404
    mine = (await client.get(url, headers=alice.headers)).json()
    assert mine["tools"] == [{"type": "file_search", "knowledge_base_ids": [], "top_k": 5, "threshold": None,
                              "vector_store_ids": [SHARED_STORE]}]


async def test_a_run_whose_budget_cannot_hold_the_hosted_fees_is_not_sent(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    """The round holds max_calls_per_round fees first: with no room for them the model is not called."""
    limits = await client.patch(f"/api/admin/budgets/users/{alice.id}", headers=alice.headers,
                                json={"user_daily_micros": 30_000})
    assert limits.status_code == 200, limits.text
    with hosted_enabled(app_state, "web_search"):  # 4 calls x $0.01 = $0.04 > $0.03
        _, conversation = await _chat(client, alice, tools=[{"type": "web_search"}])
        response = await send(client, alice, conversation["id"], "Search")
    assert response.status_code == 201, response.text
    answer = response.json()["assistant_message"]
    assert openai_double.requests == []  # the model was never called
    assert answer["status"] == "failed" and answer["error"]["code"] == "budget_exceeded"
    assert "before round 1" in answer["error"]["message"]
    assert await open_reservations(app_state) == []
    assert [r for r in await usage_records(app_state) if r.kind == "tool"] == []


async def test_code_interpreter_is_charged_once_per_container_and_failed_calls_are_free(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    calls = [HostedCallScript("code_interpreter", code=["1+1"], logs="2", container_id="cntr_a"),
             HostedCallScript("code_interpreter", code=["2+2"], logs="4", container_id="cntr_a"),
             HostedCallScript("web_search", query="q", status="failed")]
    openai_double.push(Script(hosted_calls=calls, text=["2 and 4."]))
    with hosted_enabled(app_state, "code_interpreter", "web_search"):
        _, conversation = await _chat(client, alice, tools=[{"type": "code_interpreter"}, {"type": "web_search"}])
        answer = (await send(client, alice, conversation["id"], "Compute")).json()["assistant_message"]
    parts = [p for p in answer["content"] if p["type"] == "tool_call"]
    assert [(p["name"], p["status"], p["cost_micros"]) for p in parts] == [
        ("code_interpreter", "complete", 30_000), ("code_interpreter", "complete", 0),
        ("web_search", "failed", 0)]
    assert parts[0]["output"] == "2" and json.loads(parts[1]["arguments"]) == {"code": "2+2"}
    assert parts[2]["is_error"] is True
    fees = [(r.tool, r.cost_micros) for r in await usage_records(app_state, kind="tool")]
    assert fees == [("openai:code_interpreter", 30_000)]
    assert await open_reservations(app_state) == []


async def test_stop_during_a_hosted_call_keeps_the_finished_ones_and_charges_only_them(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    """The double stalls while the code interpreter's code streams; the user stops the answer there."""
    search = HostedCallScript("web_search", query="q", sources=[SOURCE])
    code = HostedCallScript("code_interpreter", code=["print(", "1)"], logs="1")
    openai_double.push(Script(hosted_calls=[search, code], text=["Never."], stall_after=1))
    with hosted_enabled(app_state, "web_search", "code_interpreter"):
        _, conversation = await _chat(client, alice, tools=[{"type": "web_search"}, {"type": "code_interpreter"}])
        stream = asyncio.create_task(send(client, alice, conversation["id"], "Go"))

        async def code_started() -> None:
            while True:  # until the turn runs (before that, there is nothing to follow)
                async for _, event in app_state.bus.subscribe(conversation["id"]):
                    if event["type"] == "tool_call_started" and event["name"] == "code_interpreter":
                        return
                await asyncio.sleep(0.01)
        await asyncio.wait_for(code_started(), 10)
        stopped = await client.post(f"/api/conversations/{conversation['id']}/stop", headers=alice.headers)
        assert stopped.json() == {"stopped": True}
        answer = (await stream).json()["assistant_message"]
    assert answer["status"] == "stopped"
    assert await wait_for_thread_event(openai_double.last_request.disconnected)  # the upstream call was cancelled
    parts = {p["name"]: p for p in answer["content"] if p["type"] == "tool_call"}
    assert (parts["web_search"]["status"], parts["web_search"]["cost_micros"]) == ("complete", 10_000)
    assert (parts["code_interpreter"]["status"], parts["code_interpreter"]["cost_micros"]) == ("stopped", 0)
    assert parts["code_interpreter"]["is_error"] is True
    fees = [(r.tool, r.cost_micros) for r in await usage_records(app_state, kind="tool")]
    assert fees == [("openai:web_search", 10_000)]
    run = await _run(app_state)
    assert (run.status, run.ended_by) == ("cancelled", "user")
    assert await open_reservations(app_state) == []
