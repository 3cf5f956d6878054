"""GET /api/assistants: order, pagination, search (q) and tag filter."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_assistants_factories import get_json, make_assistant
from tests.conftest import UserSession


def names(page: dict[str, Any]) -> list[str]:
    return [a["name"] for a in page["data"]]


async def test_empty_list(client: httpx.AsyncClient, alice: UserSession) -> None:
    assert await get_json(client, alice, "/api/assistants") == {"data": [], "count": 0}


async def test_ordered_by_most_recently_updated(client: httpx.AsyncClient, alice: UserSession) -> None:
    first = await make_assistant(alice, name="first")
    await make_assistant(alice, name="second")
    await make_assistant(alice, name="third")
    assert names(await get_json(client, alice, "/api/assistants")) == ["third", "second", "first"]
    response = await client.patch(f"/api/assistants/{first['id']}", json={"description": "touched"},
                                  headers=alice.headers)
    assert response.status_code == 200
    assert names(await get_json(client, alice, "/api/assistants")) == ["first", "third", "second"]


async def test_pagination_pages_through_everything_once(client: httpx.AsyncClient, alice: UserSession) -> None:
    for i in range(7):
        await make_assistant(alice, name=f"a{i}")
    pages = [await get_json(client, alice, "/api/assistants", limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert [len(p["data"]) for p in pages] == [3, 3, 1, 0]
    assert all(p["count"] == 7 for p in pages)
    seen = [name for p in pages for name in names(p)]
    assert seen == [f"a{i}" for i in reversed(range(7))]


async def test_default_limit_is_50(client: httpx.AsyncClient, alice: UserSession) -> None:
    for i in range(52):
        await make_assistant(alice, name=f"a{i}")
    page = await get_json(client, alice, "/api/assistants")
    assert len(page["data"]) == 50 and page["count"] == 52
    assert len((await get_json(client, alice, "/api/assistants", limit=100))["data"]) == 52


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"offset": -1},
                                    {"offset": 10**12}, {"q": "q" * 201}, {"tag": "t" * 51}])
async def test_bad_query_parameters_are_422(client: httpx.AsyncClient, alice: UserSession,
                                            params: dict[str, Any]) -> None:
    response = await client.get("/api/assistants", params=params, headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_search_matches_name_or_description_case_insensitively(client: httpx.AsyncClient,
                                                                     alice: UserSession) -> None:
    await make_assistant(alice, name="Travel Planner", description="trips")
    await make_assistant(alice, name="Chef", description="Plans MEALS for the week")
    await make_assistant(alice, name="Coder", description="writes python")
    assert sorted(names(await get_json(client, alice, "/api/assistants", q="plan"))) == ["Chef", "Travel Planner"]
    assert names(await get_json(client, alice, "/api/assistants", q="MEALS")) == ["Chef"]
    assert names(await get_json(client, alice, "/api/assistants", q="meals")) == ["Chef"]
    page = await get_json(client, alice, "/api/assistants", q="nothing like this")
    assert page == {"data": [], "count": 0}
    assert (await get_json(client, alice, "/api/assistants", q=""))["count"] == 3


@pytest.mark.parametrize("needle", ["%", "_", "/", "\\"])
async def test_search_wildcards_are_literal(client: httpx.AsyncClient, alice: UserSession, needle: str) -> None:
    await make_assistant(alice, name=f"has {needle} inside")
    await make_assistant(alice, name="plain name")
    page = await get_json(client, alice, "/api/assistants", q=needle)
    assert names(page) == [f"has {needle} inside"] and page["count"] == 1


async def test_search_counts_all_matches_not_just_the_page(client: httpx.AsyncClient, alice: UserSession) -> None:
    for i in range(4):
        await make_assistant(alice, name=f"match {i}")
    await make_assistant(alice, name="other")
    page = await get_json(client, alice, "/api/assistants", q="match", limit=2, offset=1)
    assert page["count"] == 4 and names(page) == ["match 2", "match 1"]


async def test_tag_filter_is_exact_membership(client: httpx.AsyncClient, alice: UserSession) -> None:
    await make_assistant(alice, name="a", tags=["work", "python"])
    await make_assistant(alice, name="b", tags=["workshop"])
    await make_assistant(alice, name="c", tags=["Work"])
    await make_assistant(alice, name="d")
    assert names(await get_json(client, alice, "/api/assistants", tag="work")) == ["a"]
    assert names(await get_json(client, alice, "/api/assistants", tag="python")) == ["a"]
    assert names(await get_json(client, alice, "/api/assistants", tag="Work")) == ["c"]
    assert (await get_json(client, alice, "/api/assistants", tag="wor"))["count"] == 0
    assert (await get_json(client, alice, "/api/assistants", tag='"work"'))["count"] == 0


async def test_tag_and_search_combine(client: httpx.AsyncClient, alice: UserSession) -> None:
    await make_assistant(alice, name="Python tutor", tags=["edu"])
    await make_assistant(alice, name="Python linter", tags=["dev"])
    await make_assistant(alice, name="Math tutor", tags=["edu"])
    page = await get_json(client, alice, "/api/assistants", q="python", tag="edu")
    assert names(page) == ["Python tutor"] and page["count"] == 1
