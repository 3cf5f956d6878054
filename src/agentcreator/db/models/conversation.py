from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from agentcreator.db.base import MYSQL_TABLE_ARGS, Base, IdMixin, TimestampMixin
from agentcreator.db.types import SafeJSON, SafeString, SafeText, UTCDateTime, utcnow


class Conversation(IdMixin, TimestampMixin, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_owner_activity", "owner_id", "last_activity_at"),
        Index("ix_conversations_assistant", "assistant_id"),
        MYSQL_TABLE_ARGS,
    )

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    # Conversations outlive their assistant: deleting it keeps the history readable.
    assistant_id: Mapped[str | None] = mapped_column(
        ForeignKey("assistants.id", ondelete="SET NULL"), nullable=True
    )
    title: Mapped[str] = mapped_column(SafeString(300), default="New conversation", nullable=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # Continuation chain: when the message cap is reached, a new conversation continues this one.
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True
    )
    # Set when the message cap was reached and a continuation took over: this one is then read-only.
    continued_in_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True
    )
    # A continuation's summary of the conversation it continues; sent with the instructions.
    summary: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    # Running summary of the messages that fell out of the history window (assistant opt-in), and the
    # last message it covers: it is used only while that message is on the branch being shown.
    window_summary: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    window_summary_through_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # The newest message of the branch being shown (regenerate/edit create sibling branches).
    active_leaf_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    # The model this conversation answers with ("provider/model"), chosen by its owner; None: its
    # assistant's. Always one of the assistant's provider's models (checked when it is set).
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Message(IdMixin, TimestampMixin, Base):
    """One message. ``content`` is a list of parts (``{"type": "text", "text": ...}``, images, files).
    ``status``: complete, streaming, stopped, failed, interrupted."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_seq", "conversation_id", "seq"), MYSQL_TABLE_ARGS)

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    # Monotonic position in the conversation (ties in timestamps never reorder messages).
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    content: Mapped[list[dict[str, Any]]] = mapped_column(SafeJSON(), default=list, nullable=False)
    text: Mapped[str] = mapped_column(SafeText(), default="", nullable=False)
    status: Mapped[str] = mapped_column(String(20), default="complete", nullable=False)
    error: Mapped[dict[str, Any] | None] = mapped_column(SafeJSON(), nullable=True)
    # Branching: the message this one answers or follows (regenerate/edit create siblings).
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    usage: Mapped[dict[str, Any] | None] = mapped_column(SafeJSON(), nullable=True)
    cost_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # A continuation carries recent messages over as copies; this is the original's id.
    carried_from_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # What the model was sent for this answer: kept/dropped message ids and token counts.
    context: Mapped[dict[str, Any] | None] = mapped_column(SafeJSON(), nullable=True)
