"""Queries the chat turn runner needs: locking a conversation, the active branch, turn state.

The turn-start statements are SQLAlchemy Core statements built once, with bound parameters: they
return plain rows (no ORM identity map, no unit of work) and skip building and cache-keying a
statement per call, which was most of their CPU cost on the chat hot path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Assistant, AuthSession, Conversation, Message, User, UserBudget
from agentcreator.db.types import utcnow
from agentcreator.repositories.assistants import plausible_id
from agentcreator.repositories.users import AccessState

_conversations = Conversation.__table__
_assistants = Assistant.__table__
_messages = Message.__table__


@dataclass(frozen=True, slots=True)
class ConversationState:
    """What a turn start reads of a conversation."""

    id: str
    assistant_id: str | None
    title: str
    continued_in_id: str | None
    summary: str | None
    window_summary: str | None
    window_summary_through_id: str | None
    message_count: int
    active_leaf_id: str | None
    model: str | None  # the conversation's own model, None: its assistant's
    owner_budget_overrides: dict[str, Any] | None  # the owner's budget limits, when an admin set any


@dataclass(frozen=True, slots=True)
class AssistantConfig:
    """What a turn start reads of the conversation's assistant."""

    id: str
    name: str
    model: str
    instructions: str
    parameters: dict[str, Any]
    max_messages: int
    history_window: int
    summarize_dropped: bool
    budget_monthly_micros: int | None
    budget_monthly_tokens: int | None
    tools: list[dict[str, Any]]


_user_budgets = UserBudget.__table__
_CONVERSATION_COLUMNS = [_conversations.c[name] for name in ConversationState.__slots__[:-1]] + [
    _user_budgets.c.overrides.label("owner_budget_overrides")]
_ASSISTANT_COLUMNS = [_assistants.c[name].label(f"a_{name}") for name in AssistantConfig.__slots__]
_TURN_START = (
    select(*_CONVERSATION_COLUMNS, *_ASSISTANT_COLUMNS)
    .select_from(_conversations.outerjoin(_assistants, _assistants.c.id == _conversations.c.assistant_id)
                 .outerjoin(_user_budgets, _user_budgets.c.user_id == _conversations.c.owner_id))
    .where(_conversations.c.id == bindparam("conversation_id"), _conversations.c.owner_id == bindparam("owner_id")))


_users = User.__table__
_auth_sessions = AuthSession.__table__
_TURN_START_WITH_ACCESS = (
    select(_users.c.is_disabled, _users.c.token_version, _auth_sessions.c.revoked_at, *_CONVERSATION_COLUMNS,
           *_ASSISTANT_COLUMNS)
    .select_from(
        _users.join(_auth_sessions, and_(_auth_sessions.c.user_id == _users.c.id,
                                         _auth_sessions.c.id == bindparam("session_id")))
        .outerjoin(_conversations, and_(_conversations.c.id == bindparam("conversation_id"),
                                        _conversations.c.owner_id == _users.c.id))
        .outerjoin(_assistants, _assistants.c.id == _conversations.c.assistant_id)
        .outerjoin(_user_budgets, _user_budgets.c.user_id == _users.c.id))
    .where(_users.c.id == bindparam("owner_id")))


def _turn_start_row(values: Any) -> tuple[ConversationState, AssistantConfig | None]:
    conversation = ConversationState(*(values[name] for name in ConversationState.__slots__))
    if values["a_id"] is None:
        return conversation, None
    return conversation, AssistantConfig(*(values[f"a_{name}"] for name in AssistantConfig.__slots__))


async def turn_start_with_access(
        session: AsyncSession, owner_id: str, conversation_id: str, auth_session_id: str,
) -> tuple[AccessState | None, tuple[ConversationState, AssistantConfig | None] | None]:
    """:func:`turn_start` and :func:`users.access_state` in one statement: (None, None) when the user or
    the auth session does not exist; (access, None) when the conversation does not exist or is not
    theirs."""
    row = (await session.execute(_TURN_START_WITH_ACCESS, {
        "owner_id": owner_id, "session_id": auth_session_id,
        "conversation_id": conversation_id if plausible_id(conversation_id) else ""})).one_or_none()
    if row is None:
        return None, None
    values = row._mapping
    access = AccessState(bool(values["is_disabled"]), int(values["token_version"]), values["revoked_at"])
    return access, (_turn_start_row(values) if values["id"] is not None else None)


async def turn_start(session: AsyncSession, owner_id: str,
                     conversation_id: str) -> tuple[ConversationState, AssistantConfig | None] | None:
    """The caller's conversation and its assistant (None when deleted), in one statement; None when
    the conversation does not exist or is not theirs."""
    if not plausible_id(conversation_id):
        return None
    row = (await session.execute(_TURN_START, {"conversation_id": conversation_id,
                                               "owner_id": owner_id})).one_or_none()
    return _turn_start_row(row._mapping) if row is not None else None


def _claim(leaf_known: bool) -> Any:
    leaf = _conversations.c.active_leaf_id
    return (update(_conversations)
            .where(_conversations.c.id == bindparam("conversation_id"),
                   _conversations.c.owner_id == bindparam("b_owner_id"),
                   leaf == bindparam("expected_leaf") if leaf_known else leaf.is_(None),
                   _conversations.c.message_count == bindparam("expected_count"),
                   _conversations.c.continued_in_id.is_(None))
            .values(message_count=_conversations.c.message_count + bindparam("added"),
                    active_leaf_id=bindparam("new_leaf"), last_activity_at=bindparam("now"),
                    updated_at=bindparam("now")))


_CLAIM = {True: _claim(True), False: _claim(False)}


async def claim_turn(session: AsyncSession, owner_id: str, conversation_id: str, *, expected_leaf: str | None,
                     expected_count: int, added: int, new_leaf: str, now: datetime) -> bool:
    """Count ``added`` new messages and show ``new_leaf``, if the caller's conversation is still as
    read (shown branch, message count, not continued). The UPDATE re-checks that under the row's
    lock (held until the transaction ends; SQLite: the write lock), so of concurrent starters from
    the same read only one gets True. False: it moved, was continued, or is gone (:func:`turn_state`
    tells which)."""
    result = await session.execute(_CLAIM[expected_leaf is not None], {
        "conversation_id": conversation_id, "b_owner_id": owner_id, "expected_leaf": expected_leaf,
        "expected_count": expected_count, "added": added, "new_leaf": new_leaf, "now": now})
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


_OWNED = select(_conversations.c.id).where(_conversations.c.id == bindparam("conversation_id"),
                                           _conversations.c.owner_id == bindparam("owner_id"))


async def is_owned(session: AsyncSession, owner_id: str, conversation_id: str) -> bool:
    if not plausible_id(conversation_id):
        return False
    return (await session.execute(_OWNED, {"conversation_id": conversation_id,
                                           "owner_id": owner_id})).first() is not None


async def lock_owned_conversation(session: AsyncSession, owner_id: str, conversation_id: str) -> Conversation | None:
    """The caller's conversation, row-locked until the transaction ends (PostgreSQL, MariaDB;
    SQLite serialises writers itself)."""
    return (await session.execute(
        select(Conversation)
        .where(Conversation.id == conversation_id, Conversation.owner_id == owner_id)
        .with_for_update()
    )).scalar_one_or_none()


_BRANCH_ROWS = (
    select(_messages.c.id, _messages.c.parent_id, _messages.c.role, _messages.c.status, _messages.c.text,
           _messages.c.content, _messages.c.carried_from_id, _messages.c.seq)
    .where(_messages.c.conversation_id == bindparam("conversation_id"))
    .order_by(_messages.c.seq, _messages.c.id))


async def branch_rows(session: AsyncSession, conversation_id: str) -> list[Any]:
    """The messages of a conversation with only what a turn start needs (id, parent, role, status,
    text, content, carried-over origin, seq), oldest first: no usage, context or error documents."""
    return list((await session.execute(_BRANCH_ROWS, {"conversation_id": conversation_id})).all())


async def has_streaming(session: AsyncSession, conversation_id: str) -> bool:
    return bool((await session.execute(select(exists().where(
        Message.conversation_id == conversation_id, Message.status == "streaming")))).scalar())


async def get_message(session: AsyncSession, conversation_id: str, message_id: str) -> Message | None:
    return (await session.execute(
        select(Message).where(Message.id == message_id, Message.conversation_id == conversation_id)
    )).scalar_one_or_none()


async def all_messages(session: AsyncSession, conversation_id: str) -> list[Message]:
    rows = await session.execute(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq, Message.id))
    return list(rows.scalars())


def branch_to(messages: list[Any], leaf_id: str | None) -> list[Any]:
    """The chronological path from the root to ``leaf_id`` (to the newest message when unset)."""
    if not messages:
        return []
    by_id = {m.id: m for m in messages}
    node = by_id.get(leaf_id) if leaf_id else None
    if node is None:
        node = messages[-1]
    path: list[Any] = []
    seen: set[str] = set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    return list(reversed(path))


def newest_leaf_under(messages: list[Message], message_id: str) -> str:
    """The newest descendant of ``message_id`` (itself when it has none): selecting a version
    shows the latest branch that grew from it."""
    children: dict[str, list[Message]] = {}
    for m in messages:
        if m.parent_id:
            children.setdefault(m.parent_id, []).append(m)
    current = message_id
    while children.get(current):
        current = max(children[current], key=lambda m: m.seq).id
    return current


_CHECKPOINT = (update(_messages)
               .where(_messages.c.id == bindparam("message_id"), _messages.c.status == "streaming")
               .values(text=bindparam("v_text"), updated_at=bindparam("v_now")))


async def checkpoint_answer(session: AsyncSession, message_id: str, *, text: str) -> bool:
    """Save a streaming answer's text so far (one Core UPDATE; nothing once it is no longer streaming)."""
    result = await session.execute(_CHECKPOINT, {"message_id": message_id, "v_text": text, "v_now": utcnow()})
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]
