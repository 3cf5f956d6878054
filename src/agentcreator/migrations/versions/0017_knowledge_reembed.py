"""knowledge bases: embedding dimensions and re-embedding state

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-05 04:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import agentcreator.db.types

revision: str = '0017'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('knowledge_bases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('embedding_dimensions', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reembedding', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('embedding_error', agentcreator.db.types.SafeText(), nullable=True))
    # Every base so far was built by the embedded MiniLM model (384 dimensions).
    op.execute("UPDATE knowledge_bases SET embedding_dimensions = 384 "
               "WHERE embedding_model = 'local/all-minilm-l6-v2-int8'")


def downgrade() -> None:
    with op.batch_alter_table('knowledge_bases', schema=None) as batch_op:
        batch_op.drop_column('embedding_error')
        batch_op.drop_column('reembedding')
        batch_op.drop_column('embedding_dimensions')
