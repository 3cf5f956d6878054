"""Full-text search over the text of one owner's messages, with each database's own index (migration
0013): SQLite FTS5 (prefix terms), PostgreSQL ``to_tsvector('simple', text)`` (GIN), MariaDB/MySQL
``FULLTEXT`` in boolean mode. Every term must match (AND); each is matched as a word prefix. Owner
scoping is a join on the conversation; archived conversations are included."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Conversation, Message

MAX_TERMS = 8
MAX_TERM_LENGTH = 64
SEARCHED_ROLES = ("user", "assistant")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class MessageHit:
    message_id: str
    role: str
    text: str
    created_at: datetime
    conversation_id: str
    conversation_title: str
    archived: bool


def search_terms(query: str) -> list[str]:
    """The words of a query (letters, digits, underscore): nothing else reaches a full-text syntax."""
    terms = [t.lower()[:MAX_TERM_LENGTH] for t in _WORD.findall(query)]
    return list(dict.fromkeys(terms))[:MAX_TERMS]


def _matching(dialect: str, terms: list[str]) -> tuple[object, dict[str, str]]:
    if dialect == "sqlite":
        expression = " ".join(f'"{t}"*' for t in terms)
        clause = literal_column("messages.rowid").in_(
            select(literal_column("rowid")).select_from(text("messages_fts"))
            .where(text("messages_fts MATCH :fts_query")))
        return clause, {"fts_query": expression}
    if dialect == "postgresql":
        expression = " & ".join(f"{t}:*" for t in terms)
        return text("to_tsvector('simple', messages.text) @@ to_tsquery('simple', :fts_query)"), \
            {"fts_query": expression}
    expression = " ".join(f"+{t}*" for t in terms)
    return text("MATCH (messages.text) AGAINST (:fts_query IN BOOLEAN MODE)"), {"fts_query": expression}


async def search_owned(session: AsyncSession, owner_id: str, query: str, *, limit: int = 20) -> list[MessageHit]:
    """The owner's messages whose text matches every word of ``query``, newest first."""
    terms = search_terms(query)
    if not terms:
        return []
    clause, params = _matching(session.get_bind().dialect.name, terms)
    stmt: Select[tuple[Message, Conversation]] = (
        select(Message, Conversation)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.owner_id == owner_id, Message.role.in_(SEARCHED_ROLES), clause)  # type: ignore[arg-type]
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    rows = await session.execute(stmt, params)
    return [MessageHit(message_id=m.id, role=m.role, text=m.text, created_at=m.created_at,
                       conversation_id=c.id, conversation_title=c.title, archived=c.archived)
            for m, c in rows.all()]


def snippet(text_: str, terms: list[str], *, before: int = 60, after: int = 140) -> str:
    """The part of a message around its first matching word, whitespace collapsed, with ellipses."""
    flat = " ".join(text_.split())
    lowered = flat.lower()
    starts = [i for i in (lowered.find(t) for t in terms) if i >= 0]
    at = min(starts) if starts else 0
    start = max(0, at - before)
    if start > 0:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < at else start
    end = min(len(flat), at + after)
    if end < len(flat):
        space = flat.rfind(" ", at, end)
        end = space if space > at else end
    return ("…" if start > 0 else "") + flat[start:end] + ("…" if end < len(flat) else "")
