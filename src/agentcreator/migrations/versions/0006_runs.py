"""runs and run steps; usage records point to their run

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-05 01:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import agentcreator.db.types

revision: str = '0006'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        'runs',
        sa.Column('owner_id', sa.String(length=32), nullable=False),
        sa.Column('conversation_id', sa.String(length=32), nullable=False),
        sa.Column('message_id', sa.String(length=32), nullable=False),
        sa.Column('assistant_id', sa.String(length=32), nullable=True),
        sa.Column('model', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('ended_by', sa.String(length=40), nullable=True),
        sa.Column('rounds', sa.Integer(), nullable=False),
        sa.Column('cost_micros', sa.BigInteger(), nullable=False),
        sa.Column('error', agentcreator.db.types.SafeJSON(), nullable=True),
        sa.Column('finished_at', agentcreator.db.types.UTCDateTime(), nullable=True),
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('created_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'],
                                name=op.f('fk_runs_conversation_id_conversations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_runs_owner_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_runs')),
        **_MYSQL,
    )
    op.create_index('ix_runs_conversation_created', 'runs', ['conversation_id', 'created_at'], unique=False)
    op.create_index('ix_runs_message', 'runs', ['message_id'], unique=False)
    op.create_table(
        'run_steps',
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('step_index', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('details', agentcreator.db.types.SafeJSON(), nullable=False),
        sa.Column('cost_micros', sa.BigInteger(), nullable=False),
        sa.Column('started_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.Column('finished_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_run_steps_run_id_runs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_run_steps')),
        **_MYSQL,
    )
    op.create_index('ix_run_steps_run_index', 'run_steps', ['run_id', 'step_index'], unique=False)
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('step_index', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tool', sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f('ix_usage_records_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_records_run_id'))
        batch_op.drop_column('tool')
        batch_op.drop_column('step_index')
        batch_op.drop_column('run_id')
    op.drop_table('run_steps')  # its indexes go with it (MariaDB refuses to drop one a foreign key uses)
    op.drop_table('runs')
