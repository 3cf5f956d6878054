"""Knowledge bases: documents (as extracted pages), their chunks with vectors, and ingestion jobs.

Lexical search lives beside the chunk table, per database (migration 0007): an FTS5 table kept in
sync by triggers on SQLite, an expression GIN index on ``to_tsvector('english', text)`` on PostgreSQL,
a FULLTEXT index on MariaDB/MySQL. Vectors are float32 BLOBs searched by brute force in memory.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from agentcreator.db.base import MYSQL_TABLE_ARGS, Base, IdMixin, TimestampMixin
from agentcreator.db.types import SafeString, SafeText, UTCDateTime

# SQLite gives an INTEGER PRIMARY KEY the rowid (auto-increment, what FTS5's content_rowid needs);
# BIGINT elsewhere.
ChunkId = BigInteger().with_variant(Integer(), "sqlite")

DOCUMENT_STATUSES = ("queued", "parsing", "embedding", "ready", "failed")
JOB_STATUSES = ("queued", "running", "done", "failed")


class KnowledgeBase(IdMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_bases"
    __table_args__ = (Index("ix_knowledge_bases_owner_updated", "owner_id", "updated_at"), MYSQL_TABLE_ARGS)

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(SafeString(200), nullable=False)
    description: Mapped[str] = mapped_column(SafeText(), default="", nullable=False)
    # The embedder that built the vectors (and its vectors' length); a base is searched densely only
    # with it. A base whose model is not the running embedder's is "stale": lexical search only.
    embedding_model: Mapped[str] = mapped_column(String(200), nullable=False)
    embedding_dimensions: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Re-embedding with ``embedding_model``: set when asked, cleared by the job that embeds the last
    # chunk. While set the base is searched lexically only (never old and new vectors mixed).
    reembedding: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    embedding_error: Mapped[str | None] = mapped_column(SafeText(), nullable=True)  # the last re-embed failure
    # Bumped on every change of the searchable chunks: workers compare it to their cached matrix.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)


class KnowledgeDocument(IdMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_documents"
    __table_args__ = (Index("ix_knowledge_documents_base_created", "base_id", "created_at"), MYSQL_TABLE_ARGS)

    base_id: Mapped[str] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), nullable=False)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(SafeString(300), nullable=False)
    # The uploaded file this document was extracted from (files/ package); no FK until it lands.
    file_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", nullable=False)
    progress_done: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    progress_total: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    error: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    page_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    embedding_tokens: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)


class KnowledgePage(Base):
    """The extracted text of one page, kept so that a job can resume and a citation can open its page."""

    __tablename__ = "knowledge_pages"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    document_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_documents.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1-based
    text: Mapped[str] = mapped_column(SafeText(), nullable=False)


class KnowledgeChunk(Base):
    __tablename__ = "knowledge_chunks"
    __table_args__ = (
        UniqueConstraint("document_id", "ordinal", name="uq_knowledge_chunks_document_ordinal"),
        Index("ix_knowledge_chunks_base", "base_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(ChunkId, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_documents.id", ondelete="CASCADE"), nullable=False)
    base_id: Mapped[str] = mapped_column(ForeignKey("knowledge_bases.id", ondelete="CASCADE"), nullable=False)
    ordinal: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(SafeText(), nullable=False)
    page: Mapped[int] = mapped_column(Integer, nullable=False)
    char_start: Mapped[int] = mapped_column(Integer, nullable=False)
    char_end: Mapped[int] = mapped_column(Integer, nullable=False)
    # float32 little-endian, the base's embedder's dimensions; NULL until embedded.
    vector: Mapped[bytes | None] = mapped_column(LargeBinary(), nullable=True)


class KnowledgeJob(IdMixin, TimestampMixin, Base):
    """One ingestion job per document. Claimed by a conditional UPDATE (queued, or running with an
    expired lease); the worker renews the lease while it works, so a crashed worker's job is taken
    over when its lease runs out."""

    __tablename__ = "knowledge_jobs"
    __table_args__ = (Index("ix_knowledge_jobs_status_lease", "status", "lease_until"), MYSQL_TABLE_ARGS)

    document_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_documents.id", ondelete="CASCADE"), nullable=False, unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(SafeText(), nullable=True)
