"""The prompt-token cache (chat/model_request.PromptCache): bounded by bytes as well as entries, and a
refused turn leaves it as it was."""

from __future__ import annotations

from types import SimpleNamespace

import httpx

from agentcreator.chat.model_request import PromptCache
from agentcreator.llm.testing import ScriptedProvider
from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script

MB = 1024 * 1024


def _message(message_id: str, text: str) -> SimpleNamespace:
    return SimpleNamespace(id=message_id, role="user", text=text, content=[{"type": "text", "text": text}])


def test_the_cache_stays_under_its_byte_bound_with_few_large_messages() -> None:
    provider = ScriptedProvider()
    cache = PromptCache(max_items=20_000, max_bytes=1 * MB)
    for i in range(40):  # 40 x ~100 KB: four times the bound, far under the entry bound
        chat, tokens = cache.get(provider, "test-model", _message(f"m{i}", "x" * 100_000))
        assert tokens > 0 and chat[0].role == "user"
        assert cache.bytes <= 1 * MB
    assert 5 <= len(cache) <= 10
    # The least recently used went first: the newest is still there, the first is not.
    staged = cache.staged()
    staged.get(provider, "test-model", _message("m39", "different text, same id"))
    staged.get(provider, "test-model", _message("m0", "y"))
    staged.commit()
    assert cache.get(provider, "test-model", _message("m39", ""))[0][0].content[0].text == "x" * 100_000
    assert cache.get(provider, "test-model", _message("m0", ""))[0][0].content[0].text == "y"


def test_a_message_bigger_than_a_quarter_of_the_bound_is_counted_but_not_kept() -> None:
    provider = ScriptedProvider()
    cache = PromptCache(max_bytes=1 * MB)
    cache.get(provider, "test-model", _message("small", "hello"))
    before = (len(cache), cache.bytes)
    _, tokens = cache.get(provider, "test-model", _message("huge", "z" * 400_000))
    assert tokens > 50_000
    assert (len(cache), cache.bytes) == before


def test_instructions_are_kept_by_digest_and_count_towards_the_bound() -> None:
    provider = ScriptedProvider()
    cache = PromptCache(max_items=100, max_bytes=1 * MB)
    for i in range(500):  # retrieved passages make every turn's instructions different
        assert cache.instructions_tokens(provider, "test-model", f"{i} " + "w" * 50_000) > 0
    assert len(cache) == 100 and cache.bytes <= 100 * PromptCache.ENTRY_OVERHEAD


def test_staged_entries_reach_the_cache_only_on_commit() -> None:
    provider = ScriptedProvider()
    cache = PromptCache(max_bytes=1 * MB)
    staged = cache.staged()
    staged.get(provider, "test-model", _message("a", "hello"))
    staged.instructions_tokens(provider, "test-model", "Be brief.")
    assert len(cache) == 0 and cache.bytes == 0
    staged.commit()
    assert len(cache) == 2 and cache.bytes > 0


async def test_a_refused_turn_does_not_grow_the_cache(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    current = (await client.get("/api/admin/prices", headers=alice.headers)).json()
    models = current["models"] + [{"pattern": "double/gpt-4o-mini", "input_per_1m": 0,
                                   "cached_input_per_1m": None, "output_per_1m": 1_000_000_000}]
    assert (await client.put("/api/admin/prices", headers=alice.headers, json={"models": models})).status_code == 200
    _, conversation = await make_chat(client, alice, parameters={"max_output_tokens": 1000})
    await client.patch(f"/api/conversations/{conversation['id']}", headers=alice.headers, json={"title": "Fixed"})
    budget = await client.patch(f"/api/admin/budgets/users/{alice.id}", headers=alice.headers,
                                json={"user_daily_micros": 1_000_000})
    assert budget.status_code == 200
    openai_double.push(Script(text=["pricey"], output_tokens=1000))
    assert (await send(client, alice, conversation["id"], "one")).status_code == 201
    cache = app_state.chat._drafts._prompts
    accepted = (len(cache), cache.bytes)
    assert accepted[0] >= 2  # the instructions and the first message

    for i in range(5):  # each refusal carries a new message
        refused = await send(client, alice, conversation["id"], f"{i} " + "big " * 1500)
        assert refused.status_code == 402, refused.text
    too_long = await send(client, alice, conversation["id"], "big " * 20_000)
    assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "context_too_long"
    assert (len(cache), cache.bytes) == accepted
