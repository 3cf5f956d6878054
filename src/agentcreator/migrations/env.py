"""Alembic environment. Migrations always run on a connection handed over by
``agentcreator.db.migrate`` (which holds the cross-process migration lock)."""

from __future__ import annotations

from alembic import context

from agentcreator.db import models  # noqa: F401 - registers every table
from agentcreator.db.base import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `agentcreator migrate`, which takes the migration lock.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
