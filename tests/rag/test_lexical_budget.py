"""SQLite's lexical ranking budget: terms are cut rarest first, a query whose rarest term matches more
rows than the budget ranks only its newest matches, and common terms' frequencies are cached."""

from __future__ import annotations

import weakref

import pytest

from agentcreator.db.session import session_scope
from agentcreator.repositories import knowledge_lexical as lexical
from agentcreator.state import AppState
from tests.conftest import UserSession
from tests.rag.helpers import add_document, make_base, run_jobs

# Six one-chunk documents, added in this order: the first says "apple" most often (BM25's best for it).
PAGES = [
    "apple apple apple orchard notes",
    "apple zebra sighting at the zoo",
    "apple pie recipe with cinnamon",
    "apple cider pressing in autumn",
    "apple tree pruning in winter",
    "apple varieties for cooking",
]


@pytest.fixture
async def apples(alice: UserSession, app_state: AppState, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[int]]:
    if app_state.sessions.kw["bind"].dialect.name != "sqlite":
        pytest.skip("the budget is SQLite's (FTS5 ranks every matching row)")
    monkeypatch.setattr(lexical, "_df_cache", weakref.WeakKeyDictionary())
    base_id = (await make_base(alice, "Apples"))["id"]
    for n, page in enumerate(PAGES):
        await add_document(alice, base_id, f"doc{n}.md", [page])
    await run_jobs(app_state.knowledge)
    async with session_scope(app_state.sessions) as session:
        ranked = await lexical.search(session, [base_id], "apple", 10)
    assert len(ranked) == 6
    return base_id, [chunk_id for chunk_id, _ in ranked]


async def _search(app_state: AppState, base_id: str, query: str) -> list[int]:
    async with session_scope(app_state.sessions) as session:
        return [chunk_id for chunk_id, _ in await lexical.search(session, [base_id], query, 10)]


async def test_within_the_budget_every_match_is_ranked(app_state: AppState, apples: tuple[str, list[int]]) -> None:
    base_id, ranked = apples
    assert ranked[0] == min(ranked)  # the first document: "apple" three times
    assert len(await _search(app_state, base_id, "apple zebra")) == 6


async def test_common_terms_are_cut_rarest_first(app_state: AppState, apples: tuple[str, list[int]],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    base_id, ranked = apples
    monkeypatch.setattr(lexical, "SQLITE_MATCH_BUDGET", 3)
    only_zebra = await _search(app_state, base_id, "apple zebra")  # zebra: 1 row, apple: 6 (over 3)
    assert only_zebra == [sorted(ranked)[1]]


async def test_a_term_over_the_budget_ranks_its_newest_matches_only(
        app_state: AppState, apples: tuple[str, list[int]], monkeypatch: pytest.MonkeyPatch) -> None:
    base_id, ranked = apples
    monkeypatch.setattr(lexical, "SQLITE_MATCH_BUDGET", 3)
    newest = await _search(app_state, base_id, "apple")
    assert sorted(newest) == sorted(ranked)[-3:]  # the best match (the oldest chunk) is not ranked
    monkeypatch.setattr(lexical, "SQLITE_MATCH_BUDGET", 6)
    assert await _search(app_state, base_id, "apple") == ranked


async def test_common_terms_frequencies_are_cached(app_state: AppState, apples: tuple[str, list[int]],
                                                   monkeypatch: pytest.MonkeyPatch, alice: UserSession) -> None:
    base_id, _ = apples
    monkeypatch.setattr(lexical, "DF_CACHE_MIN", 5)
    monkeypatch.setattr(lexical, "SQLITE_MATCH_BUDGET", 7)
    assert len(await _search(app_state, base_id, "apple zebra")) == 6
    (cache,) = lexical._df_cache.values()
    assert {term: df for term, (_, df) in cache.items()} == {"appl": 6}  # zebra (1 row) is looked up each time
    # A seventh "apple" is not counted until the entry expires: the budget still sees 6 rows.
    monkeypatch.setattr(lexical, "SQLITE_MATCH_BUDGET", 6)
    await add_document(alice, base_id, "doc6.md", ["apple crossing"])
    await run_jobs(app_state.knowledge)
    assert len(await _search(app_state, base_id, "apple")) == 7
    monkeypatch.setattr(lexical, "DF_CACHE_SECONDS", 0.0)
    assert len(await _search(app_state, base_id, "apple")) == 6  # 7 rows: over the budget, the newest 6


async def test_probing_the_bases_ranks_like_the_base_phrase_and_only_their_rows(
        app_state: AppState, apples: tuple[str, list[int]], alice: UserSession, bob: UserSession,
        monkeypatch: pytest.MonkeyPatch) -> None:
    base_id, ranked = apples
    for user in (alice, bob):  # more "apple" rows, in two other bases
        other = (await make_base(user, "Other apples"))["id"]
        await add_document(user, other, "other.md", ["apple apple apple apple orchard", "apple juice"])
    await run_jobs(app_state.knowledge)
    for query in ("apple", "apple zebra", "orchard pie"):
        async with session_scope(app_state.sessions) as session:
            monkeypatch.setattr(lexical, "PROBE_RATIO", 10**9)  # never: the base phrase
            by_phrase = await lexical.search(session, [base_id], query, 10)
            monkeypatch.setattr(lexical, "PROBE_RATIO", 0)  # always: the probe
            by_probe = await lexical.search(session, [base_id], query, 10)
        assert by_probe == by_phrase and by_probe  # the same scores: the base column weighs 0
        assert {chunk_id for chunk_id, _ in by_probe} <= set(ranked)  # no other base's rows
    async with session_scope(app_state.sessions) as session:
        assert {i for i, _ in await lexical.search(session, [base_id], "apple", 10)} == set(ranked)
