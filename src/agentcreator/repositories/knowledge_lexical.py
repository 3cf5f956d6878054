"""Lexical ranking of knowledge chunks, one query per database, the same contract on each.

The query is reduced to its words (letters, digits, underscore; at most ``MAX_TERMS``), any of which
may match: the user's text never reaches a query parser as syntax.

- SQLite: FTS5 (``porter unicode61``) restricted to the bases' rows, ranked by ``bm25()``.
- PostgreSQL: ``to_tsvector('english', text) @@ websearch_to_tsquery('english', 'a or b ...')`` on an
  expression GIN index, ranked by ``ts_rank_cd``.
- MariaDB/MySQL: a FULLTEXT index, ``MATCH ... AGAINST (... IN NATURAL LANGUAGE MODE)`` (its own
  relevance, an OR of the words).

Only chunks of ready documents in the given bases are returned, best first: ``[(chunk_id, score)]``
with higher scores better.
"""

from __future__ import annotations

import re
import time
import unicodedata
import weakref
from collections import OrderedDict
from collections.abc import Sequence

import snowballstemmer
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

MAX_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)
# English function words, dropped from every query: PostgreSQL's 'english' configuration and InnoDB's
# FULLTEXT drop their own lists; on SQLite they would match nearly every chunk and only cost time.
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that
the their theirs them themselves then there these they this those through to too under until up very was
we were what when where which while who whom why will with would you your yours yourself yourselves
""".split())

# The FTS5 query names the bases (``base_id`` is an indexed column), so only their rows are ranked.
# The ranking runs in a CTE: the statement does not start with SELECT, so the SQLite connection runs it
# on its own thread, never on the event loop (see db/session.LoopSideSQLite). The join that keeps
# ready documents only sees the best ``over`` rows; when too few survive it, the full ranking is used.
# ``since``: only rows from this rowid on are ranked (a query over the budget, see below; 0: all).
_SQLITE = text(
    "WITH hits AS MATERIALIZED (SELECT rowid AS id, bm25(knowledge_chunks_fts, 1.0, 0.0) AS score "
    "FROM knowledge_chunks_fts WHERE knowledge_chunks_fts MATCH :query AND rowid >= :since "
    "ORDER BY score LIMIT :over) "
    "SELECT hits.id, hits.score, (SELECT count(*) FROM hits) AS ranked FROM hits "
    "JOIN knowledge_chunks c ON c.id = hits.id "
    "JOIN knowledge_documents d ON d.id = c.document_id "
    "WHERE c.base_id IN :bases AND d.status = 'ready' ORDER BY hits.score LIMIT :limit"
).bindparams(bindparam("bases", expanding=True))
# The same ranking when the bases are large for the query: the MATCH names the words only and each
# matching row is checked against the bases with one probe of their index. FTS5's bm25() counts the rows
# of every phrase of the query (for its IDF), so the ``base_id`` phrase above costs a walk over all of
# the bases' rows (~5.5 ms at 100k), while a probe costs ~1 us a matching row. The scores are the same
# (the base column weighs 0; the words' IDF is the table's either way).
_SQLITE_PROBED = text(
    "WITH hits AS MATERIALIZED (SELECT knowledge_chunks_fts.rowid AS id, "
    "bm25(knowledge_chunks_fts, 1.0, 0.0) AS score FROM knowledge_chunks_fts "
    "JOIN knowledge_chunks c INDEXED BY ix_knowledge_chunks_base "
    "ON c.base_id IN :bases AND c.id = knowledge_chunks_fts.rowid "
    "WHERE knowledge_chunks_fts MATCH :query AND knowledge_chunks_fts.rowid >= :since "
    "ORDER BY score LIMIT :over) "
    "SELECT hits.id, hits.score, (SELECT count(*) FROM hits) AS ranked FROM hits "
    "JOIN knowledge_chunks c ON c.id = hits.id "
    "JOIN knowledge_documents d ON d.id = c.document_id "
    "WHERE d.status = 'ready' ORDER BY hits.score LIMIT :limit"
).bindparams(bindparam("bases", expanding=True))
# Probing wins when the bases hold more than this many rows per row the words match (in all bases).
PROBE_RATIO = 20
_BASE_ROWS = text(
    "SELECT coalesce(sum(chunk_count), 0) FROM knowledge_documents WHERE base_id IN :bases AND status = 'ready'"
).bindparams(bindparam("bases", expanding=True))
# The rowid of the ``skip + 1``-th newest matching row (no ranking: a walk down the doclists).
_SQLITE_SINCE = text(
    "WITH newest AS (SELECT rowid AS id FROM knowledge_chunks_fts WHERE knowledge_chunks_fts MATCH :query "
    "ORDER BY rowid DESC LIMIT 1 OFFSET :skip) SELECT id FROM newest")

_POSTGRES = text(
    "SELECT c.id, ts_rank_cd(to_tsvector('english', c.text), q) AS score "
    "FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id, "
    "websearch_to_tsquery('english', :query) q "
    "WHERE to_tsvector('english', c.text) @@ q AND c.base_id IN :bases AND d.status = 'ready' "
    "ORDER BY score DESC, c.id LIMIT :limit"
).bindparams(bindparam("bases", expanding=True))

_MYSQL = text(
    "SELECT c.id, MATCH (c.text) AGAINST (:query IN NATURAL LANGUAGE MODE) AS score "
    "FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id "
    "WHERE MATCH (c.text) AGAINST (:query IN NATURAL LANGUAGE MODE) "
    "AND c.base_id IN :bases AND d.status = 'ready' "
    "ORDER BY score DESC, c.id LIMIT :limit"
).bindparams(bindparam("bases", expanding=True))


# SQLite ranks every matching row (FTS5 has no top-k pruning): ~1-2 us a row for bm25() (it reads each
# row's length and positions). A query's terms are taken rarest first while the rows they match add up
# to at most this many; the rarest term is always kept. Terms past the budget are the most common ones,
# which weigh least in BM25 (like Lucene's common-terms query or a max_df cut-off). Below this size a
# base's queries are never cut. When even the rarest term matches more rows than this (a query of
# common words only, on a large base), only its newest ``SQLITE_MATCH_BUDGET`` matches in the bases
# are ranked: ranking all of them made the slowest searches at 100k chunks (100-300 ms; 25 of the
# retrieval bench's 200 queries keep such a term).
SQLITE_MATCH_BUDGET = 6000
# fts5vocab looks a term up by equality only (an IN list scans the whole vocabulary): one arm a term.
# The statement starts with WITH so that it runs on the connection's thread: a common term's lookup
# walks its whole doclist (~7 ms for a term in 96k chunks).
_DF_ARM = "SELECT term, doc FROM knowledge_chunks_vocab WHERE term = :t{n} AND col = 'text'"
_STEMMER = snowballstemmer.stemmer("porter")  # the algorithm of FTS5's porter tokenizer
# Document frequencies of common terms, per engine, reused for ``DF_CACHE_SECONDS``: a lookup costs as
# much as walking the term's doclist, and a few minutes' drift only moves the budget's cut a little.
# Rarer terms are looked up each time (cheap), so a base's first documents are counted at once.
DF_CACHE_MIN = 1000
DF_CACHE_SECONDS = 300.0
DF_CACHE_TERMS = 20_000
_df_cache: weakref.WeakKeyDictionary[object, OrderedDict[str, tuple[float, int]]] = weakref.WeakKeyDictionary()


def fts_stem(word: str) -> str:
    """``word`` as FTS5's ``porter unicode61`` tokenizer indexes it (lower case, no diacritics, stemmed)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))
    return _STEMMER.stemWord(plain)


def query_terms(query: str) -> list[str]:
    """The distinct words of ``query`` that are not stop words, lower-cased, in order, at most
    ``MAX_TERMS``; a query of stop words only keeps them."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))
    return ([w for w in words if w not in STOPWORDS] or words)[:MAX_TERMS]


async def search(session: AsyncSession, base_ids: Sequence[str], query: str,
                 limit: int) -> list[tuple[int, float]]:
    terms = query_terms(query)
    if not terms or not base_ids:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return await _search_sqlite(session, list(base_ids), terms, limit)
    if dialect == "postgresql":
        statement, bound = _POSTGRES, " or ".join(terms)
    else:
        statement, bound = _MYSQL, " ".join(terms)
    rows = await session.execute(statement, {"query": bound, "bases": list(base_ids), "limit": limit})
    return [(int(i), float(s)) for i, s in rows]


async def _search_sqlite(session: AsyncSession, base_ids: list[str], terms: list[str],
                         limit: int) -> list[tuple[int, float]]:
    terms, matched, over_budget = await _within_budget(session, terms)
    bases = " OR ".join(f'"{b}"' for b in base_ids)  # ids are 32 hex characters (checked by the caller)
    words = " OR ".join(f'"{t}"' for t in terms)  # \w+ words: no quote can occur in them
    match = f"base_id : ({bases}) AND text : ({words})"
    statement, since = _SQLITE, 0
    if over_budget:
        newest = await session.execute(_SQLITE_SINCE, {"query": match, "skip": SQLITE_MATCH_BUDGET - 1})
        since = newest.scalar() or 0  # None: the bases hold fewer matches than the budget
    elif (await session.execute(_BASE_ROWS, {"bases": base_ids})).scalar_one() > PROBE_RATIO * matched:
        statement, match = _SQLITE_PROBED, f"text : ({words})"
    over = limit * 4
    params = {"query": match, "bases": base_ids, "limit": limit, "over": over, "since": since}
    rows = list(await session.execute(statement, params))
    if len(rows) < limit and rows and rows[0][2] == over:  # not-ready documents took places: all of them
        rows = list(await session.execute(statement, params | {"over": -1}))
    return [(int(i), -float(s)) for i, s, _ in rows]  # bm25(): lower is better


async def _within_budget(session: AsyncSession, terms: list[str]) -> tuple[list[str], int, bool]:
    """The terms to match, rarest first within ``SQLITE_MATCH_BUDGET``; the rows they match at most (in
    all bases); whether even the one kept (the rarest) matches more rows than the budget."""
    stems = {t: fts_stem(t) for t in terms}
    frequency = await _frequencies(session, set(stems.values()))
    if (total := sum(frequency.values())) <= SQLITE_MATCH_BUDGET:
        return terms, total, False
    kept: list[str] = []
    used = 0
    for term in sorted(terms, key=lambda t: frequency.get(stems[t], 0)):
        df = frequency.get(stems[term], 0)
        if kept and used + df > SQLITE_MATCH_BUDGET:
            break
        kept.append(term)
        used += df
    return kept, used, used > SQLITE_MATCH_BUDGET


async def _frequencies(session: AsyncSession, stems: set[str]) -> dict[str, int]:
    """stem -> chunks holding it (all bases); absent: none."""
    cache = _df_cache.setdefault(session.get_bind(), OrderedDict())
    now = time.monotonic()
    frequency: dict[str, int] = {}
    for stem in stems:
        hit = cache.get(stem)
        if hit is not None and now - hit[0] < DF_CACHE_SECONDS:
            frequency[stem] = hit[1]
    wanted = sorted(stems - frequency.keys())
    if wanted:
        arms = " UNION ALL ".join(_DF_ARM.format(n=n) for n in range(len(wanted)))
        rows = await session.execute(text(f"WITH df AS ({arms}) SELECT term, doc FROM df"),
                                     {f"t{n}": stem for n, stem in enumerate(wanted)})
        for term, doc in rows:
            frequency[term] = int(doc)
            if doc >= DF_CACHE_MIN:
                cache[term] = (now, int(doc))
                cache.move_to_end(term)
        while len(cache) > DF_CACHE_TERMS:
            cache.popitem(last=False)
    return frequency
