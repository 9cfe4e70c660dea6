"""The little SQL that differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alerter.ledger.schema import Base


def insert_ignoring(session: Session, model: type[Base], values: dict[str, Any]) -> int | None:
    """Insert a row unless it breaks a unique constraint; the new id, or None if it existed.

    ``ON CONFLICT DO NOTHING`` (both backends) rather than catching IntegrityError: a failed
    statement would abort a PostgreSQL transaction, and with it the rest of the decision.
    """
    id_column: ColumnElement[int] = model.__table__.c.id
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(model).values(values).on_conflict_do_nothing()
        return session.execute(pg.returning(id_column)).scalar_one_or_none()
    lite = sqlite.insert(model).values(values).on_conflict_do_nothing()
    return session.execute(lite.returning(id_column)).scalar_one_or_none()
