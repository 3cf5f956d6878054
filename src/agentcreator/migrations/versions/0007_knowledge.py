"""knowledge bases, documents, pages, chunks, ingestion jobs and the lexical index of each database

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-05 01:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import agentcreator.db.types

revision: str = '0007'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci", "mysql_engine": "InnoDB"}

# SQLite: an external-content FTS5 table over knowledge_chunks (text, and base_id as one token so that
# a query intersects with its bases' rows before ranking), kept in sync by triggers (they also fire
# for rows removed by a foreign key's ON DELETE CASCADE).
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE knowledge_chunks_fts USING fts5("
    "text, base_id, content='knowledge_chunks', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER knowledge_chunks_fts_ai AFTER INSERT ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_chunks_fts(rowid, text, base_id) VALUES (new.id, new.text, new.base_id); END",
    "CREATE TRIGGER knowledge_chunks_fts_ad AFTER DELETE ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_chunks_fts(knowledge_chunks_fts, rowid, text, base_id) "
    "VALUES ('delete', old.id, old.text, old.base_id); END",
    "CREATE TRIGGER knowledge_chunks_fts_au AFTER UPDATE OF text, base_id ON knowledge_chunks BEGIN "
    "INSERT INTO knowledge_chunks_fts(knowledge_chunks_fts, rowid, text, base_id) "
    "VALUES ('delete', old.id, old.text, old.base_id); "
    "INSERT INTO knowledge_chunks_fts(rowid, text, base_id) VALUES (new.id, new.text, new.base_id); END",
    # Document frequencies of the indexed terms, for bounding a query's ranking work.
    "CREATE VIRTUAL TABLE knowledge_chunks_vocab USING fts5vocab('knowledge_chunks_fts', 'col')",
]

def upgrade() -> None:
    op.create_table(
        'knowledge_bases',
        sa.Column('owner_id', sa.String(length=32), nullable=False),
        sa.Column('name', agentcreator.db.types.SafeString(length=200), nullable=False),
        sa.Column('description', agentcreator.db.types.SafeText(), nullable=False),
        sa.Column('embedding_model', sa.String(length=200), nullable=False),
        sa.Column('revision', sa.BigInteger(), nullable=False),
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('created_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_knowledge_bases_owner_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_bases')),
        **MYSQL,
    )
    op.create_index('ix_knowledge_bases_owner_updated', 'knowledge_bases', ['owner_id', 'updated_at'])
    op.create_table(
        'knowledge_documents',
        sa.Column('base_id', sa.String(length=32), nullable=False),
        sa.Column('owner_id', sa.String(length=32), nullable=False),
        sa.Column('name', agentcreator.db.types.SafeString(length=300), nullable=False),
        sa.Column('file_id', sa.String(length=32), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('progress_done', sa.Integer(), nullable=False),
        sa.Column('progress_total', sa.Integer(), nullable=False),
        sa.Column('error', agentcreator.db.types.SafeText(), nullable=True),
        sa.Column('chunk_count', sa.Integer(), nullable=False),
        sa.Column('page_count', sa.Integer(), nullable=False),
        sa.Column('embedding_tokens', sa.BigInteger(), nullable=False),
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('created_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['base_id'], ['knowledge_bases.id'],
                                name=op.f('fk_knowledge_documents_base_id_knowledge_bases'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_knowledge_documents_owner_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_documents')),
        **MYSQL,
    )
    op.create_index('ix_knowledge_documents_base_created', 'knowledge_documents', ['base_id', 'created_at'])
    op.create_table(
        'knowledge_pages',
        sa.Column('document_id', sa.String(length=32), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('text', agentcreator.db.types.SafeText(), nullable=False),
        sa.ForeignKeyConstraint(['document_id'], ['knowledge_documents.id'],
                                name=op.f('fk_knowledge_pages_document_id_knowledge_documents'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('document_id', 'number', name=op.f('pk_knowledge_pages')),
        **MYSQL,
    )
    op.create_table(
        'knowledge_chunks',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('document_id', sa.String(length=32), nullable=False),
        sa.Column('base_id', sa.String(length=32), nullable=False),
        sa.Column('ordinal', sa.Integer(), nullable=False),
        sa.Column('text', agentcreator.db.types.SafeText(), nullable=False),
        sa.Column('page', sa.Integer(), nullable=False),
        sa.Column('char_start', sa.Integer(), nullable=False),
        sa.Column('char_end', sa.Integer(), nullable=False),
        sa.Column('vector', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['base_id'], ['knowledge_bases.id'],
                                name=op.f('fk_knowledge_chunks_base_id_knowledge_bases'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['document_id'], ['knowledge_documents.id'],
                                name=op.f('fk_knowledge_chunks_document_id_knowledge_documents'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_chunks')),
        sa.UniqueConstraint('document_id', 'ordinal', name='uq_knowledge_chunks_document_ordinal'),
        **MYSQL,
    )
    op.create_index('ix_knowledge_chunks_base', 'knowledge_chunks', ['base_id'])
    op.create_table(
        'knowledge_jobs',
        sa.Column('document_id', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('worker', sa.String(length=64), nullable=True),
        sa.Column('lease_until', agentcreator.db.types.UTCDateTime(), nullable=True),
        sa.Column('error', agentcreator.db.types.SafeText(), nullable=True),
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('created_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['document_id'], ['knowledge_documents.id'],
                                name=op.f('fk_knowledge_jobs_document_id_knowledge_documents'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_jobs')),
        sa.UniqueConstraint('document_id', name=op.f('uq_knowledge_jobs_document_id')),
        **MYSQL,
    )
    op.create_index('ix_knowledge_jobs_status_lease', 'knowledge_jobs', ['status', 'lease_until'])

    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif dialect == 'postgresql':
        op.execute("CREATE INDEX ix_knowledge_chunks_tsv ON knowledge_chunks "
                   "USING GIN (to_tsvector('english', text))")
    elif dialect == 'mysql':
        op.execute("CREATE FULLTEXT INDEX ix_knowledge_chunks_text ON knowledge_chunks (text)")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for name in ('knowledge_chunks_fts_au', 'knowledge_chunks_fts_ad', 'knowledge_chunks_fts_ai'):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS knowledge_chunks_vocab")
        op.execute("DROP TABLE IF EXISTS knowledge_chunks_fts")
    op.drop_table('knowledge_jobs')
    op.drop_table('knowledge_chunks')
    op.drop_table('knowledge_pages')
    op.drop_table('knowledge_documents')
    op.drop_table('knowledge_bases')
