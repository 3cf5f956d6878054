"""Lexical ranking of knowledge chunks, one query per database, the same contract on each.

The query is reduced to its words (letters, digits, underscore; at most ``MAX_TERMS``), any of which
may match: the user's text never reaches a query parser as syntax.

- SQLite: FTS5 (``porter unicode61``), ranked by ``bm25()``.
- PostgreSQL: ``to_tsvector('english', text) @@ websearch_to_tsquery('english', 'a or b ...')`` on an
  expression GIN index, ranked by ``ts_rank_cd``.
- MariaDB/MySQL: a FULLTEXT index, ``MATCH ... AGAINST (... IN NATURAL LANGUAGE MODE)`` (its own
  relevance, an OR of the words).

Only chunks of ready documents in the given bases are returned, best first: ``[(chunk_id, score)]``
with higher scores better.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

MAX_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)

_SQLITE = text(
    "SELECT c.id, bm25(knowledge_chunks_fts) AS score FROM knowledge_chunks_fts "
    "JOIN knowledge_chunks c ON c.id = knowledge_chunks_fts.rowid "
    "JOIN knowledge_documents d ON d.id = c.document_id "
    "WHERE knowledge_chunks_fts MATCH :query AND c.base_id IN :bases AND d.status = 'ready' "
    "ORDER BY score LIMIT :limit"
).bindparams(bindparam("bases", expanding=True))

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


def query_terms(query: str) -> list[str]:
    """The distinct words of ``query``, lower-cased, in order, at most ``MAX_TERMS``."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:MAX_TERMS]


async def search(session: AsyncSession, base_ids: Sequence[str], query: str,
                 limit: int) -> list[tuple[int, float]]:
    terms = query_terms(query)
    if not terms or not base_ids:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        statement, bound = _SQLITE, " OR ".join(f'"{t}"' for t in terms)
    elif dialect == "postgresql":
        statement, bound = _POSTGRES, " or ".join(terms)
    else:
        statement, bound = _MYSQL, " ".join(terms)
    rows = await session.execute(statement, {"query": bound, "bases": list(base_ids), "limit": limit})
    if dialect == "sqlite":  # bm25(): lower is better
        return [(int(i), -float(s)) for i, s in rows]
    return [(int(i), float(s)) for i, s in rows]
