"""full-text search over message text (SQLite FTS5, PostgreSQL GIN tsvector, MariaDB/MySQL FULLTEXT);
admin audit events and one-time account links

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 02:25:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import agentcreator.db.types

_MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci", "mysql_engine": "InnoDB"}

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite: an external-content FTS5 table over messages.text, kept in step by triggers.
_SQLITE_UP = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='rowid',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN"
    " INSERT INTO messages_fts(rowid, text) VALUES (new.rowid, new.text); END",
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text); END",
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF text ON messages BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);"
    " INSERT INTO messages_fts(rowid, text) VALUES (new.rowid, new.text); END",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS messages_fts_au",
    "DROP TRIGGER IF EXISTS messages_fts_ad",
    "DROP TRIGGER IF EXISTS messages_fts_ai",
    "DROP TABLE IF EXISTS messages_fts",
]


def _admin_tables() -> None:
    op.create_table(
        'admin_audit_events',
        sa.Column('actor_id', sa.String(length=32), nullable=True),
        sa.Column('actor_email', sa.String(length=320), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('target_user_id', sa.String(length=32), nullable=True),
        sa.Column('target_email', sa.String(length=320), nullable=True),
        sa.Column('detail', agentcreator.db.types.SafeJSON(), nullable=True),
        sa.Column('created_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_admin_audit_events_actor_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_audit_events')),
        **_MYSQL,
    )
    op.create_index(op.f('ix_admin_audit_events_created_at'), 'admin_audit_events', ['created_at'], unique=False)
    op.create_table(
        'account_links',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('purpose', sa.String(length=20), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=True),
        sa.Column('email', sa.String(length=320), nullable=True),
        sa.Column('created_by', sa.String(length=32), nullable=True),
        sa.Column('expires_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.Column('used_at', agentcreator.db.types.UTCDateTime(), nullable=True),
        sa.Column('created_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_links_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_account_links_created_by_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_account_links_token_hash')),
        **_MYSQL,
    )


def upgrade() -> None:
    _admin_tables()
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("CREATE INDEX ix_messages_text_fts ON messages USING gin (to_tsvector('simple', text))")
    elif dialect in ("mysql", "mariadb"):
        op.execute("CREATE FULLTEXT INDEX ix_messages_text_ft ON messages (text)")


def downgrade() -> None:
    op.drop_table('account_links')
    op.drop_index(op.f('ix_admin_audit_events_created_at'), table_name='admin_audit_events')
    op.drop_table('admin_audit_events')
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_messages_text_fts")
    elif dialect in ("mysql", "mariadb"):
        op.execute("DROP INDEX ix_messages_text_ft ON messages")
