"""Alembic's entry point: runs on the connection ``alerter.ledger.migrate`` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from alerter.ledger.schema import Base

connection: Connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
)
with context.begin_transaction():
    context.run_migrations()
