"""Automatic retrieval: a model that cannot call tools gets the passages of the assistant's knowledge
bases that match the user's message, in its instructions; the answer cites them and the context report
says what was retrieved. Another user's knowledge base is never searched."""

from __future__ import annotations

import httpx

from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script
from tests.rag.helpers import add_document, make_base, run_jobs

PAGES = ["The observatory opens at nine in the evening on clear nights.",
         "Visitors park behind the greenhouse; the west gate stays locked after dark.",
         "Tickets for the planetarium show cost twelve euros for adults."]


async def test_a_model_without_tools_answers_from_the_retrieved_passages(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    base = await make_base(alice, "Visitor guide")
    await add_document(alice, base["id"], "guide.md", PAGES)
    await run_jobs(app_state.knowledge)
    _, conversation = await make_chat(client, alice, model="double/no-tools", tools=[
        {"type": "file_search", "knowledge_base_ids": [base["id"]], "top_k": 2}])
    openai_double.push(Script(text=["Twelve euros [1]."]), Script(text=["Tickets"]))
    answer = (await send(client, alice, conversation["id"], "How much is a planetarium ticket?")).json()[
        "assistant_message"]
    assert answer["status"] == "complete"
    first_call = next(r for r in openai_double.requests if r.path.endswith("/chat/completions"))
    system = next(m for m in first_call.body["messages"] if m["role"] == "system")["content"]
    assert "twelve euros" in system
    citations = [p for p in answer["content"] if p["type"] == "citation"]
    assert citations and citations[0]["name"] == "guide.md" and "twelve euros" in citations[0]["text"]
    context = (await client.get(f"/api/conversations/{conversation['id']}/messages/{answer['id']}/context",
                                headers=alice.headers)).json()["context"]
    assert context["retrieval"]["query"] == "How much is a planetarium ticket?"
    assert context["retrieval"]["passages"][0]["name"] == "guide.md"


async def test_another_users_knowledge_base_cannot_be_attached(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState) -> None:
    base = await make_base(alice, "Private")
    response = await client.post("/api/assistants", headers=bob.headers, json={
        "name": "Snoop", "model": "double/no-tools",
        "tools": [{"type": "file_search", "knowledge_base_ids": [base["id"]]}]})
    assert response.status_code == 422
