"""Message search (GET /api/conversations/search) on each database's full-text index: snippets,
archived included, owner-scoped, hostile queries harmless."""

from __future__ import annotations

import httpx
import pytest

from agentcreator.repositories.message_search import search_terms, snippet
from agentcreator.state import AppState
from tests.api.test_assistants_factories import add_messages, get_json, make_assistant, make_conversation
from tests.conftest import UserSession

URL = "/api/conversations/search"


async def _conversation(user: UserSession, app_state: AppState, title: str, *texts: str) -> dict:
    conversation = await make_conversation(user, (await make_assistant(user))["id"], title=title)
    await add_messages(app_state, conversation["id"], *texts)
    return conversation


async def test_finds_message_text_with_a_snippet(client: httpx.AsyncClient, alice: UserSession,
                                                 app_state: AppState) -> None:
    trip = await _conversation(alice, app_state, "Travel", "Plan a journey to Lisbon please",
                               "Lisbon has trams, custard tarts and many viewpoints over the river Tagus")
    await _conversation(alice, app_state, "Cooking", "How long do I boil potatoes?", "About twenty minutes")
    found = await get_json(client, alice, URL, q="lisbon")
    assert found["count"] == 2
    assert {h["conversation_id"] for h in found["data"]} == {trip["id"]}
    assert {h["role"] for h in found["data"]} == {"user", "assistant"}
    assert all("Lisbon" in h["snippet"] for h in found["data"])
    assert found["data"][0]["conversation_title"] == "Travel" and found["data"][0]["archived"] is False
    # Every word must match; words match as prefixes.
    assert (await get_json(client, alice, URL, q="lisbon tarts"))["count"] == 1
    assert (await get_json(client, alice, URL, q="potat"))["data"][0]["snippet"].startswith("How long")
    assert (await get_json(client, alice, URL, q="lisbon potatoes"))["count"] == 0


async def test_archived_conversations_are_included_and_labelled(client: httpx.AsyncClient, alice: UserSession,
                                                                app_state: AppState) -> None:
    old = await _conversation(alice, app_state, "Old", "The wardrobe squeaks terribly", "Oil its hinges")
    archived = await client.patch(f"/api/conversations/{old['id']}", json={"archived": True}, headers=alice.headers)
    assert archived.status_code == 200
    found = await get_json(client, alice, URL, q="wardrobe")
    assert [(h["conversation_id"], h["archived"]) for h in found["data"]] == [(old["id"], True)]


async def test_another_users_messages_never_match(client: httpx.AsyncClient, alice: UserSession, bob: UserSession,
                                                  app_state: AppState) -> None:
    mine = await _conversation(alice, app_state, "Secret", "My locker combination is marmalade", "Noted")
    assert (await get_json(client, bob, URL, q="marmalade")) == {"data": [], "count": 0}
    await _conversation(bob, app_state, "Bob's", "Bob likes marmalade sandwiches", "Tasty")
    bobs = await get_json(client, bob, URL, q="marmalade")
    assert bobs["count"] == 1 and bobs["data"][0]["conversation_id"] != mine["id"]
    alices = await get_json(client, alice, URL, q="marmalade")
    assert [h["conversation_id"] for h in alices["data"]] == [mine["id"]]
    assert (await get_json(client, alice, f"/api/conversations/{mine['id']}/messages"))["count"] == 2


async def test_edited_and_deleted_messages_follow_the_index(client: httpx.AsyncClient, alice: UserSession,
                                                            app_state: AppState) -> None:
    gone = await _conversation(alice, app_state, "Gone", "Remember the pineapple", "Pineapple remembered")
    assert (await get_json(client, alice, URL, q="pineapple"))["count"] == 2
    assert (await client.delete(f"/api/conversations/{gone['id']}", headers=alice.headers)).status_code == 204
    assert (await get_json(client, alice, URL, q="pineapple"))["count"] == 0


@pytest.mark.parametrize("query", ['"', "*", "AND OR NOT", "') OR 1=1 --", "a:* & !b", "+-<>()~*\"@", "NEAR(x y)",
                                   "%_%", "\u0000", "😀"])
async def test_hostile_queries_are_harmless(client: httpx.AsyncClient, alice: UserSession, app_state: AppState,
                                            query: str) -> None:
    await _conversation(alice, app_state, "Plain", "Ordinary words only", "Indeed ordinary")
    response = await client.get(URL, params={"q": query}, headers=alice.headers)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert all("ordinary" in h["snippet"].lower() for h in response.json()["data"])


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "x" * 201}, {"q": "a", "limit": 0}, {"q": "a", "limit": 51}])
async def test_bad_parameters_are_422(client: httpx.AsyncClient, alice: UserSession, params: dict) -> None:
    assert (await client.get(URL, params=params, headers=alice.headers)).status_code == 422


def test_terms_and_snippets() -> None:
    assert search_terms('  "Lisbon" OR  trams* -- lisbon ') == ["lisbon", "or", "trams"]
    assert search_terms("+-*()") == []
    long = "word " * 40 + "needle in the haystack " + "word " * 40
    cut = snippet(long, ["needle"])
    assert cut.startswith("…") and cut.endswith("…") and "needle in the haystack" in cut
    assert len(cut) < 220
    assert snippet("short needle", ["needle"]) == "short needle"
