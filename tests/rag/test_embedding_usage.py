"""Every embedding call is metered: ingestion (each batch) and the query of each search are usage records
of kind "embedding" (tool "embeddings"), for the base's owner, priced from the price table (the local
model is free until an admin prices it), and inside a chat run they point to the run and its step."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from agentcreator.db.models import KnowledgeDocument, Run
from agentcreator.state import AppState
from tests.api.billing_helpers import ledger, open_reservations, usage_records
from tests.api.chat_helpers import make_chat, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script, ToolCallScript
from tests.rag.helpers import CORPUS, add_document, make_base, run_jobs


async def _library(user: UserSession, state: AppState) -> dict[str, Any]:
    base = await make_base(user, "Notes")
    for name, pages in CORPUS.items():
        await add_document(user, base["id"], name, pages)
    assert await run_jobs(state.knowledge) == len(CORPUS)
    return base


async def _embedded_tokens(state: AppState, base_id: str) -> int:
    async with state.sessions() as session:
        return int((await session.execute(select(func.sum(KnowledgeDocument.embedding_tokens)).where(
            KnowledgeDocument.base_id == base_id))).scalar_one())


async def test_ingestion_and_search_record_embedding_usage_for_the_owner(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState) -> None:
    base = await _library(alice, app_state)
    ingested = await usage_records(app_state, kind="embedding")
    assert ingested, "ingestion recorded no embedding usage"
    for record in ingested:
        assert (record.user_id, record.provider, record.model, record.tool) == (
            alice.id, "local", "all-minilm-l6-v2-int8", "embeddings")
        assert (record.cost_micros, record.priced, record.output_tokens, record.run_id) == (0, True, 0, None)
        assert record.input_tokens > 0 and not record.estimated
    assert sum(r.input_tokens for r in ingested) == await _embedded_tokens(app_state, base["id"]) > 0

    response = await alice.client.post(f"/api/knowledge-bases/{base['id']}/search", headers=alice.headers,
                                       json={"query": "what makes the sea rise and fall?"})
    assert response.status_code == 200 and response.json()["data"][0]["name"] == "tides.md"
    searched = await usage_records(app_state, kind="embedding")
    assert len(searched) == len(ingested) + 1
    query = searched[-1]
    assert query.user_id == alice.id and 0 < query.input_tokens < 20 and query.conversation_id is None

    # bob naming alice's base: 404, nothing embedded or recorded for anyone.
    denied = await bob.client.post(f"/api/knowledge-bases/{base['id']}/search", headers=bob.headers,
                                   json={"query": "tides"})
    assert denied.status_code == 404
    assert len(await usage_records(app_state, kind="embedding")) == len(searched)
    assert await usage_records(app_state, user_id=bob.id) == []

    # The usage page: embeddings show among the tools, and as their own kind.
    tools = (await alice.client.get("/api/usage?group_by=tool", headers=alice.headers)).json()
    by_tool = {g["key"]: g for g in tools["data"]}
    assert by_tool["embeddings"]["calls"] == len(searched)
    assert by_tool["embeddings"]["input_tokens"] == sum(r.input_tokens for r in searched)
    kinds = {g["key"]: g["calls"] for g in
             (await alice.client.get("/api/usage?group_by=kind", headers=alice.headers)).json()["data"]}
    assert kinds == {"embedding": len(searched)}
    rows = await ledger(app_state)
    assert rows[("user_day", alice.id)].spent_tokens == sum(r.input_tokens for r in searched)
    assert await open_reservations(app_state) == []


async def test_a_price_an_admin_sets_for_the_local_model_is_charged(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    current = (await client.get("/api/admin/prices", headers=alice.headers)).json()
    models = current["models"] + [{"pattern": "local/all-minilm-l6-v2-int8", "input_per_1m": 2_000_000,
                                   "cached_input_per_1m": None, "output_per_1m": 0}]
    saved = await client.put("/api/admin/prices", headers=alice.headers,
                             json={"note": "embeddings cost", "models": models, "tools": current["tools"]})
    assert saved.status_code == 200, saved.text
    version = saved.json()["version"]["id"]
    await _library(alice, app_state)
    records = await usage_records(app_state, kind="embedding")
    assert records
    for record in records:  # $2 per 1M tokens: 2 micro-dollars a token
        assert (record.cost_micros, record.priced, record.price_version) == (2 * record.input_tokens, True, version)
    rows = await ledger(app_state)
    assert rows[("user_month", alice.id)].spent_micros == sum(r.cost_micros for r in records) > 0


async def test_file_search_in_a_run_records_its_query_embedding_on_the_run_and_step(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    base = await _library(alice, app_state)
    before = len(await usage_records(app_state, kind="embedding"))
    assistant, conversation = await make_chat(client, alice, tools=[
        {"type": "file_search", "knowledge_base_ids": [base["id"]], "top_k": 2}])
    await client.patch(f"/api/conversations/{conversation['id']}", headers=alice.headers, json={"title": "Fixed"})
    call = ToolCallScript("file_search", ['{"query": "how to feed a sourdough starter"}'])
    openai_double.push(Script(text=["Let me look."], tool_calls=[call]), Script(text=["Feed it the night before [1]."]))
    response = await send(client, alice, conversation["id"], "When do I feed my starter?")
    assert response.status_code == 201, response.text
    answer = response.json()["assistant_message"]
    assert answer["status"] == "complete"
    async with app_state.sessions() as session:
        run = (await session.execute(select(Run).where(Run.conversation_id == conversation["id"]))).scalar_one()
    records = await usage_records(app_state, run_id=run.id)
    embedding = [r for r in records if r.kind == "embedding"]
    tool = [r for r in records if r.kind == "tool"]
    assert len(embedding) == 1 and len(tool) == 1
    record = embedding[0]
    assert (record.user_id, record.assistant_id, record.conversation_id, record.message_id) == (
        alice.id, assistant["id"], conversation["id"], answer["id"])
    assert record.step_index == tool[0].step_index == 1 and record.tool == "embeddings"
    assert len(await usage_records(app_state, kind="embedding")) == before + 1


async def test_automatic_retrieval_records_its_query_embedding_on_the_conversation(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    base = await _library(alice, app_state)
    assistant, conversation = await make_chat(client, alice, model="double/no-tools", tools=[
        {"type": "file_search", "knowledge_base_ids": [base["id"]], "top_k": 2}])
    openai_double.push(Script(text=["At 250 degrees [1]."]), Script(text=["Bread"]))
    response = await send(client, alice, conversation["id"], "How hot should the oven be for bread?")
    assert response.status_code == 201, response.text
    records = await usage_records(app_state, kind="embedding", conversation_id=conversation["id"])
    assert len(records) == 1
    assert (records[0].user_id, records[0].assistant_id, records[0].run_id) == (alice.id, assistant["id"], None)
