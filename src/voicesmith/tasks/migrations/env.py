"""Alembic's environment: runs on the connection the Store (or ``voicesmith db``) hands it."""

from __future__ import annotations

from alembic import context

from voicesmith.tasks.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through voicesmith.tasks.migrations (voicesmith db upgrade)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
