"""mcp servers

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-05 01:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import agentcreator.db.types

revision: str = '0008'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mcp_servers',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('description', agentcreator.db.types.SafeText(), nullable=False),
    sa.Column('transport', sa.String(length=20), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('headers_encrypted', agentcreator.db.types.SafeText(), nullable=True),
    sa.Column('header_names', agentcreator.db.types.SafeJSON(), nullable=False),
    sa.Column('command', agentcreator.db.types.SafeString(length=1000), nullable=True),
    sa.Column('args', agentcreator.db.types.SafeJSON(), nullable=False),
    sa.Column('env_encrypted', agentcreator.db.types.SafeText(), nullable=True),
    sa.Column('env_names', agentcreator.db.types.SafeJSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('call_timeout_seconds', sa.Float(), nullable=False),
    sa.Column('connect_timeout_seconds', sa.Float(), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', agentcreator.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', agentcreator.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mcp_servers')),
    sa.UniqueConstraint('name', name=op.f('uq_mcp_servers_name')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )


def downgrade() -> None:
    op.drop_table('mcp_servers')
