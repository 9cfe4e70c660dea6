"""Silences: holds on notifications for a rule, a record, an owner (or a mix), for a while.

A silence is never deleted: removing one ends it now, so the history of who held what stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerter.episodes import Silence
from alerter.errors import UsageError
from alerter.ledger.schema import SilenceRow


class UnknownSilence(UsageError):
    """No silence has that id."""


@dataclass(frozen=True)
class SilenceEntry:
    """A silence as the ledger keeps it: the hold itself, and when it was set and removed."""

    silence: Silence
    created_at: datetime
    removed_at: datetime | None = None


def add(
    session: Session,
    *,
    rule_id: str | None,
    record_id: str | None,
    owner_id: str | None,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    created_by: str,
    now: datetime,
) -> SilenceEntry:
    """Store a silence; at least one of rule, record and owner (a silence of everything would
    hide every breach, which is what stopping the service is for)."""
    if rule_id is None and record_id is None and owner_id is None:
        raise UsageError("a silence needs a rule, a record or an owner")
    if ends_at <= starts_at:
        raise UsageError("a silence must end after it starts")
    row = SilenceRow(
        rule_id=rule_id,
        record_id=record_id,
        owner_id=owner_id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=created_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return entry(row)


def active(session: Session, now: datetime, *, include_ended: bool) -> list[SilenceEntry]:
    """Silences not yet ended (current and future), or all of them; by start."""
    query = select(SilenceRow).order_by(SilenceRow.starts_at, SilenceRow.id)
    if not include_ended:
        query = query.where(SilenceRow.ends_at > now)
    return [entry(row) for row in session.scalars(query)]


def remove(session: Session, silence_id: int, now: datetime) -> SilenceEntry:
    """End a silence now (an ended one is left as it was)."""
    row = session.get(SilenceRow, silence_id, with_for_update=True)
    if row is None:
        raise UnknownSilence(f"no silence {silence_id}")
    if row.removed_at is None and row.ends_at > now:
        row.removed_at = now
        row.ends_at = now
    return entry(row)


def entry(row: SilenceRow) -> SilenceEntry:
    silence = Silence(
        id=row.id,
        rule_id=row.rule_id,
        record_id=row.record_id,
        owner_id=row.owner_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        reason=row.reason,
        created_by=row.created_by,
    )
    return SilenceEntry(silence=silence, created_at=row.created_at, removed_at=row.removed_at)
