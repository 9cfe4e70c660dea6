"""Connections to the ledger database: SQLite (a file, WAL mode) or PostgreSQL (psycopg 3).

SQLite allows one writer at a time. Python's sqlite3 driver starts transactions lazily (at the
first write), so two processes could both read the outbox and then fight over the write. We
take the driver's transaction handling over and open every write transaction with
``BEGIN IMMEDIATE``, which takes the write lock up front: on SQLite a claim is serialised
rather than raced. PostgreSQL needs none of this (``FOR UPDATE SKIP LOCKED`` does the work).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from alerter.errors import AlerterError

WRITE = "alerter_ledger_write"
"""Execution option marking a transaction that writes (``BEGIN IMMEDIATE`` on SQLite)."""


class LedgerUnavailable(AlerterError):
    """The ledger database cannot be reached or used (bad URL, server down, locked file)."""


def masked(url: str) -> str:
    """The URL as it may be logged: with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; connects lazily (no I/O here)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerUnavailable(f"not a database URL: {masked(url)}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise LedgerUnavailable(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///FILE "
            "or postgresql+psycopg://USER@HOST/DB"
        )
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise LedgerUnavailable(f"cannot use {masked(url)}: {exc}") from None


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, much faster
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def transaction(engine: Engine, *, write: bool) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises.

    A read on PostgreSQL runs in REPEATABLE READ, so its several queries (episodes, then their
    notifications) see one snapshot; SQLite's read transaction in WAL mode already does."""
    options: dict[str, Any] = {WRITE: write}
    if not write and engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.connection(execution_options=options)
        yield session
