"""What the ledger can tell about a record: every notification decided for it, and how it went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerter.episodes import Status
from alerter.ledger.codec import decode_address, decode_payload
from alerter.ledger.schema import EpisodeRow, NotificationRow


@dataclass(frozen=True)
class HistoryRow:
    """One notification with its outcome. ``targets`` are the addresses it was routed to;
    ``summary_id`` is the summary that told it, for a folded one. A summary row itself has no
    episode: it is listed with the records it folds."""

    id: int
    rule_id: str
    record_id: str
    name: str
    episode_id: int | None
    clock_start: datetime | None
    kind: str
    tier: int
    recipient: str
    channel: str
    sequence: int
    status: Status
    reason: str
    decided_at: datetime
    not_before: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    error_code: str | None
    detail: str | None
    targets: tuple[str, ...]
    summary_id: int | None
    closed_at: datetime | None
    close_reason: str | None


def history(session: Session, record_id: str | None, rule_id: str | None) -> list[HistoryRow]:
    """Every notification about ``record_id`` (under ``rule_id``), oldest first; with neither,
    every notification."""
    query = select(NotificationRow, EpisodeRow).join(EpisodeRow)
    if record_id is not None:
        query = query.where(EpisodeRow.record_id == record_id)
    if rule_id is not None:
        query = query.where(EpisodeRow.rule_id == rule_id)
    found: list[tuple[NotificationRow, EpisodeRow | None]] = [
        (n, e) for n, e in session.execute(query)
    ]
    summary_ids = {n.summary_id for n, _ in found if n.summary_id is not None}
    if summary_ids:
        summaries = session.scalars(
            select(NotificationRow).where(NotificationRow.id.in_(summary_ids))
        )
        # A summary tells several records; list it under the first folded row's episode.
        by_summary = {n.summary_id: e for n, e in found if n.summary_id is not None}
        found += [(s, by_summary[s.id]) for s in summaries]
    if record_id is None and rule_id is None:
        orphans = select(NotificationRow).where(NotificationRow.episode_id.is_(None))
        seen = {n.id for n, _ in found}
        found += [(s, None) for s in session.scalars(orphans) if s.id not in seen]
    rows = [_row(n, e) for n, e in found]
    return sorted(rows, key=lambda r: (r.decided_at, r.id))


def _row(n: NotificationRow, e: EpisodeRow | None) -> HistoryRow:
    notification, _ = decode_payload(n.payload)
    summary = n.episode_id is None
    return HistoryRow(
        id=n.id,
        rule_id=e.rule_id if e is not None else notification.rule_id,
        record_id=e.record_id if e is not None else notification.evaluation.record_id,
        name=notification.evaluation.name,
        episode_id=n.episode_id,
        clock_start=None if e is None or summary else e.clock_start,
        kind=n.kind,
        tier=n.tier,
        recipient=n.recipient,
        channel=n.channel,
        sequence=n.sequence,
        status=Status(n.status),
        reason=n.reason,
        decided_at=n.decided_at,
        not_before=n.not_before,
        next_attempt_at=n.next_attempt_at,
        sent_at=n.sent_at,
        attempts=n.attempts,
        last_error=n.last_error,
        error_code=n.error_code,
        detail=n.detail,
        targets=tuple(decode_address(a).target for a in n.addresses),
        summary_id=n.summary_id,
        closed_at=None if e is None or summary else e.closed_at,
        close_reason=None if e is None or summary else e.close_reason,
    )
