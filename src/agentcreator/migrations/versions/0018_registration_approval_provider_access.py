"""registration approval, account notices, provider network and access

Users registered while approval is required are ``is_pending``; ``account_notices`` tell an owner what
happened to their account (a registration attempt with their email). Providers get
``allow_private_network`` (the SSRF guard admits their host on a private address) and
``allowed_user_ids`` (who may use their models; null: everyone).

Providers saved before this revision whose base URL names this machine or a literal private address
(``localhost``, ``127.0.0.1``, ``10.1.2.3``, ``[::1]``...) keep working: the flag is set for them, as
the administrator had configured them that way. Names that only resolve to a private address (a Docker
service name) are not guessed here: the connection test says so and the administrator allows them.

Revision ID: 0018
Revises: 0019
Create Date: 2026-12-05 04:30:00
"""
import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

import agentcreator.db.types

revision: str = '0018'
down_revision: str | None = '0019'  # chained after main's head when main was merged in
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _names_private_host(base_url: str | None) -> bool:
    if not base_url:
        return False
    try:
        host = (urlsplit(base_url).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_pending', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allow_private_network', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('allowed_user_ids', agentcreator.db.types.SafeJSON(), nullable=True))
    op.create_table('account_notices',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('detail', agentcreator.db.types.SafeJSON(), nullable=True),
    sa.Column('created_at', agentcreator.db.types.UTCDateTime(), nullable=False),
    sa.Column('dismissed_at', agentcreator.db.types.UTCDateTime(), nullable=True),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_notices_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_notices')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('account_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_notices_user_id'), ['user_id'], unique=False)

    providers = sa.table('providers', sa.column('id', sa.String()), sa.column('base_url', sa.String()),
                         sa.column('allow_private_network', sa.Boolean()))
    bind = op.get_bind()
    local = [row.id for row in bind.execute(sa.select(providers.c.id, providers.c.base_url))
             if _names_private_host(row.base_url)]
    if local:
        bind.execute(providers.update().where(providers.c.id.in_(local)).values(allow_private_network=True))


def downgrade() -> None:
    op.drop_table('account_notices')  # its index goes with it (MariaDB refuses to drop an FK's index first)
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_column('allowed_user_ids')
        batch_op.drop_column('allow_private_network')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_pending')
