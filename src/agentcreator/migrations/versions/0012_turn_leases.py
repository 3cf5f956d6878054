"""crash-safe turns: worker leases, run ownership, reservations linked to their run and worker

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-05 02:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import agentcreator.db.types

revision: str = '0012'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        'chat_workers',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('lease_until', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.Column('started_at', agentcreator.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_workers')),
        **_MYSQL,
    )
    op.create_index('ix_chat_workers_lease', 'chat_workers', ['lease_until'], unique=False)
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('worker_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('turn_id', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('prompt_tokens', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('open_from', sa.Integer(), nullable=False, server_default='0'))
    op.create_index('ix_runs_worker_status', 'runs', ['worker_id', 'status'], unique=False)
    with op.batch_alter_table('budget_reservations') as batch:
        batch.add_column(sa.Column('run_id', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('worker_id', sa.String(length=64), nullable=True))
    op.create_index('ix_budget_reservations_worker', 'budget_reservations', ['worker_id'], unique=False)
    op.create_index('ix_budget_reservations_run', 'budget_reservations', ['run_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_budget_reservations_run', table_name='budget_reservations')
    op.drop_index('ix_budget_reservations_worker', table_name='budget_reservations')
    with op.batch_alter_table('budget_reservations') as batch:
        batch.drop_column('worker_id')
        batch.drop_column('run_id')
    op.drop_index('ix_runs_worker_status', table_name='runs')
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('open_from')
        batch.drop_column('prompt_tokens')
        batch.drop_column('turn_id')
        batch.drop_column('worker_id')
    op.drop_index('ix_chat_workers_lease', table_name='chat_workers')
    op.drop_table('chat_workers')
