"""files

Revision ID: 0005
Revises: 0008
Create Date: 2026-12-05 01:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import agentcreator.db.types

revision: str = '0005'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'files',
        sa.Column('owner_id', sa.String(length=32), nullable=False),
        sa.Column('conversation_id', sa.String(length=32), nullable=True),
        sa.Column('assistant_id', sa.String(length=32), nullable=True),
        sa.Column('name', agentcreator.db.types.SafeString(length=255), nullable=False),
        sa.Column('mime', sa.String(length=120), nullable=False),
        sa.Column('format', sa.String(length=16), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('storage_key', sa.String(length=80), nullable=False),
        sa.Column('model_key', sa.String(length=80), nullable=True),
        sa.Column('thumbnail_key', sa.String(length=80), nullable=True),
        sa.Column('text_key', sa.String(length=80), nullable=True),
        sa.Column('width', sa.Integer(), nullable=True),
        sa.Column('height', sa.Integer(), nullable=True),
        sa.Column('model_width', sa.Integer(), nullable=True),
        sa.Column('model_height', sa.Integer(), nullable=True),
        sa.Column('page_count', sa.Integer(), nullable=True),
        sa.Column('text_chars', sa.Integer(), nullable=True),
        sa.Column('text_truncated', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('meta', agentcreator.db.types.SafeJSON(), nullable=False),
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('created_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['assistant_id'], ['assistants.id'], name=op.f('fk_files_assistant_id_assistants'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'],
                                name=op.f('fk_files_conversation_id_conversations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_files_owner_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_files')),
        mysql_charset='utf8mb4', mysql_collate='utf8mb4_unicode_ci', mysql_engine='InnoDB',
    )
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.create_index('ix_files_assistant', ['assistant_id'], unique=False)
        batch_op.create_index('ix_files_conversation', ['conversation_id'], unique=False)
        batch_op.create_index('ix_files_owner_created', ['owner_id', 'created_at'], unique=False)
        batch_op.create_index('ix_files_owner_sha256', ['owner_id', 'sha256'], unique=False)
        batch_op.create_index('ix_files_storage_key', ['storage_key'], unique=False)


def downgrade() -> None:
    # The indexes go with the table (MariaDB refuses to drop one that backs a foreign key first).
    op.drop_table('files')
