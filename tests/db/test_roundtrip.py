# ruff: noqa: RUF001 - look-alike 4-byte characters are the point of these tests
"""Text round-trips exactly through the API and the database: NUL, emoji, 4-byte unicode, the
PostgreSQL escape mark itself, combining characters. Run on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agentcreator.state import AppState
from tests.api.test_assistants_factories import add_messages, get_json, make_assistant, make_conversation
from tests.conftest import UserSession

NUL = "a\x00b"
ASTRAL = "𝔘𝔫𝔦 🧪 中文"
TRICKY = [NUL, ASTRAL, "\x00", "\x00\x00lead", "\uffff0", "\uffff\x00\uffff", "e\u0301 vs é", "👩‍👩‍👧 🏳️‍🌈",
          "tab\tnewline\nCR\r", "quote\" back\\slash", "\u202eRTL", "zero\u200bwidth"]


@pytest.mark.parametrize("text", TRICKY, ids=[repr(t) for t in TRICKY])
async def test_assistant_text_fields_round_trip(client: httpx.AsyncClient, alice: UserSession, text: str) -> None:
    created = await make_assistant(
        alice, name=f"n {text} n", description=text, instructions=f"{text}\n{text}", tags=[f"t{text}t", "t"],
        tools=[{"type": "function", "name": "f", "description": text,
                "parameters": {"type": "object", "properties": {text: {"type": "string", "description": text}}}}])
    assert created["name"] == f"n {text} n"
    assert created["description"] == text and created["instructions"] == f"{text}\n{text}"
    assert created["tags"] == [f"t{text}t", "t"]
    assert created["tools"][0]["description"] == text
    assert created["tools"][0]["parameters"]["properties"] == {text: {"type": "string", "description": text}}
    fetched = await get_json(client, alice, f"/api/assistants/{created['id']}")
    assert fetched == created
    assert (await get_json(client, alice, "/api/assistants"))["data"] == [created]


async def test_nul_and_astral_through_update_duplicate_export_import(client: httpx.AsyncClient,
                                                                     alice: UserSession) -> None:
    created = await make_assistant(alice, name="plain")
    response = await client.patch(f"/api/assistants/{created['id']}", headers=alice.headers, json={
        "name": f"{ASTRAL} {NUL}", "instructions": NUL * 3, "tags": [ASTRAL, NUL]})
    assert response.status_code == 200
    updated = response.json()
    assert updated["name"] == f"{ASTRAL} {NUL}" and updated["instructions"] == NUL * 3
    assert updated["tags"] == [ASTRAL, NUL]
    copy = (await client.post(f"/api/assistants/{created['id']}/duplicate", headers=alice.headers)).json()
    assert copy["name"] == f"{ASTRAL} {NUL} (copy)" and copy["tags"] == [ASTRAL, NUL]
    document = (await client.get(f"/api/assistants/{created['id']}/export", headers=alice.headers)).json()
    assert document["assistant"]["name"] == f"{ASTRAL} {NUL}"
    imported = (await client.post("/api/assistants/import", json=document, headers=alice.headers)).json()
    assert {k: imported[k] for k in document["assistant"]} == document["assistant"]


@pytest.mark.parametrize("needle", [NUL, "𝔫𝔦", "🧪", "中文", "\x00"])
async def test_search_and_tag_filter_with_nul_and_astral(client: httpx.AsyncClient, alice: UserSession,
                                                         needle: str) -> None:
    target = await make_assistant(alice, name=f"x{ASTRAL}{NUL}y", tags=[needle])
    await make_assistant(alice, name="other 😀 𝔄 ab", tags=["plain", "😀"])
    by_name = await get_json(client, alice, "/api/assistants", q=needle)
    assert [a["id"] for a in by_name["data"]] == [target["id"]]
    by_tag = await get_json(client, alice, "/api/assistants", tag=needle)
    assert [a["id"] for a in by_tag["data"]] == [target["id"]]


async def test_conversation_titles_round_trip_and_are_searchable(client: httpx.AsyncClient,
                                                                 alice: UserSession) -> None:
    assistant = await make_assistant(alice)
    titles = [f"{text}!" for text in TRICKY]
    created = [await make_conversation(alice, assistant["id"], title=title) for title in titles]
    for conversation, title in zip(created, titles, strict=True):
        assert conversation["title"] == title
        assert (await get_json(client, alice, f"/api/conversations/{conversation['id']}"))["title"] == title
    listed = await get_json(client, alice, "/api/conversations", limit=100)
    assert sorted(c["title"] for c in listed["data"]) == sorted(titles)
    found = await get_json(client, alice, "/api/conversations", q="🧪 中")
    assert [c["title"] for c in found["data"]] == [f"{ASTRAL}!"]
    found = await get_json(client, alice, "/api/conversations", q=NUL)
    assert [c["title"] for c in found["data"]] == [f"{NUL}!"]
    renamed = await client.patch(f"/api/conversations/{created[0]['id']}", json={"title": f"{NUL}{ASTRAL}"},
                                 headers=alice.headers)
    assert renamed.json()["title"] == f"{NUL}{ASTRAL}"


async def test_message_content_round_trips(client: httpx.AsyncClient, alice: UserSession,
                                           app_state: AppState) -> None:
    conversation = await make_conversation(alice, (await make_assistant(alice))["id"])
    extra: dict[str, Any] = {"usage": {"note": NUL, ASTRAL: 1}, "error": {"message": ASTRAL, "raw": NUL},
                             "model": "local/smollm2-135m-instruct"}
    await add_messages(app_state, conversation["id"], *TRICKY, **extra)
    page = await get_json(client, alice, f"/api/conversations/{conversation['id']}/messages")
    assert [m["text"] for m in page["data"]] == TRICKY
    assert [m["content"] for m in page["data"]] == [[{"type": "text", "text": t}] for t in TRICKY]
    assert all(m["usage"] == extra["usage"] and m["error"] == extra["error"] for m in page["data"])
