"""The :class:`Ledger`: the one source of truth for what was decided, sent and silenced.

It reads the past for ``decide`` (:meth:`Ledger.view`), writes what ``decide`` returns
(:meth:`Ledger.record`), and serves the outbox to the senders. The constructor does no I/O;
:meth:`Ledger.connect` reaches the database and migrates it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, Engine, and_, false, func, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from alerter.delivery.model import Address, Kind
from alerter.episodes import (
    BUDGETED,
    Decision,
    EpisodeKey,
    LedgerView,
    NotificationKey,
    OpenEpisode,
    PastNotification,
    Status,
)
from alerter.ledger import history as _history
from alerter.ledger import outbox, silences
from alerter.ledger.codec import decode_evaluation
from alerter.ledger.engine import LedgerUnavailable, make_engine, masked, transaction
from alerter.ledger.history import HistoryRow
from alerter.ledger.migrate import current_revision, head_revision, upgrade
from alerter.ledger.outbox import OutboxItem
from alerter.ledger.recording import record_decision
from alerter.ledger.schema import EpisodeRow, NotificationRow
from alerter.ledger.silences import SilenceEntry
from alerter.settings import OutboxSettings

BUDGET_WINDOW = timedelta(hours=1)


class Ledger:
    """The alert ledger on one database (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        *,
        outbox: OutboxSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._policy = outbox or OutboxSettings()
        self._rng = rng or random.Random()

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        migrate: bool = True,
        outbox: OutboxSettings | None = None,
        rng: random.Random | None = None,
    ) -> Ledger:
        """Reach the database at ``url`` and bring its schema to the newest revision (or, with
        ``migrate=False``, check that it is there). Raises :class:`LedgerUnavailable` with a
        one-line reason, the URL's password hidden."""
        engine = make_engine(url)
        try:
            if migrate:
                upgrade(engine)
            elif current_revision(engine) != head_revision():
                raise LedgerUnavailable(
                    f"the ledger at {masked(url)} is not at the newest schema: "
                    "run `alerter db upgrade`"
                )
        except DBAPIError as exc:
            engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise LedgerUnavailable(f"cannot use the ledger at {masked(url)}: {reason}") from None
        except LedgerUnavailable:
            engine.dispose()
            raise
        structlog.get_logger().debug("ledger.connected", url=masked(url), migrated=migrate)
        return cls(engine, outbox=outbox, rng=rng)

    @property
    def url(self) -> str:
        """The database URL, password hidden (fit for logs)."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def view(
        self, now: datetime, records: Mapping[str, Collection[str]] | None = None
    ) -> LedgerView:
        """The past as ``decide`` needs it: open episodes with their notifications (only those
        of ``records``, rule id -> record ids, when given: a deadline wake-up re-checks a few
        records and need not read every open episode), silences not yet ended, and per budget
        key the notifications decided in the last hour that were or will be sent on their
        own."""
        with transaction(self._engine, write=False) as session:
            episodes = _open_episodes(session, records)
            recent = session.execute(
                select(NotificationRow.budget_key, func.count())
                .where(
                    NotificationRow.decided_at > now - BUDGET_WINDOW,
                    NotificationRow.status.in_([s.value for s in BUDGETED]),
                )
                .group_by(NotificationRow.budget_key)
            )
            held = silences.active(session, now, include_ended=False)
            return LedgerView(
                episodes=episodes,
                silences=tuple(entry.silence for entry in held),
                recent={key: int(count) for key, count in recent},
            )

    def record(self, decision: Decision, now: datetime) -> list[int]:
        """Write one cycle's decision in one transaction; the ids of the new notification rows
        (recording the same decision again returns none)."""
        with transaction(self._engine, write=True) as session:
            return record_decision(session, decision, now)

    def claim(self, now: datetime, *, worker: str, limit: int = 50) -> list[OutboxItem]:
        """Take up to ``limit`` due notifications for ``worker`` to send."""
        with transaction(self._engine, write=True) as session:
            return outbox.claim(session, now, worker=worker, limit=limit)

    def mark_sent(
        self, row_id: int, *, detail: str = "", now: datetime, tried: Sequence[Address] = ()
    ) -> bool:
        """Record a delivery and the addresses tried; False if the row was not waiting for
        one."""
        with transaction(self._engine, write=True) as session:
            return outbox.mark_sent(session, row_id, detail=detail, now=now, tried=tried)

    def mark_failed(
        self,
        row_id: int,
        *,
        error: str,
        code: str = "",
        retryable: bool,
        now: datetime,
        retry_after: timedelta | None = None,
        tried: Sequence[Address] = (),
    ) -> Status | None:
        """Record a failed send and the addresses tried: back to the queue after a back-off,
        or failed for good."""
        with transaction(self._engine, write=True) as session:
            return outbox.mark_failed(
                session,
                row_id,
                error=error,
                code=code,
                retryable=retryable,
                now=now,
                policy=self._policy,
                rng=self._rng,
                retry_after=retry_after,
                tried=tried,
            )

    def recover(self, now: datetime, *, stale_after: timedelta | None = None) -> list[int]:
        """Re-queue notifications whose sender stopped mid-send (default: the outbox settings'
        ``stale_after``); the ids re-queued."""
        with transaction(self._engine, write=True) as session:
            return outbox.recover(
                session,
                now,
                stale_after=stale_after or self._policy.stale_after,
                policy=self._policy,
            )

    def outbox_depth(self, now: datetime) -> tuple[int, timedelta | None]:
        """Due notifications waiting, and how long the oldest has waited (for metrics)."""
        with transaction(self._engine, write=False) as session:
            return outbox.depth(session, now)

    def history(self, record_id: str | None = None, rule_id: str | None = None) -> list[HistoryRow]:
        """Every notification about a record (and rule), oldest first."""
        with transaction(self._engine, write=False) as session:
            return _history.history(session, record_id, rule_id)

    def add_silence(
        self,
        *,
        rule_id: str | None = None,
        record_id: str | None = None,
        owner_id: str | None = None,
        ends_at: datetime,
        reason: str,
        created_by: str,
        now: datetime,
        starts_at: datetime | None = None,
    ) -> SilenceEntry:
        """Hold notifications matching every given criterion from ``starts_at`` (default now)
        until ``ends_at``."""
        with transaction(self._engine, write=True) as session:
            return silences.add(
                session,
                rule_id=rule_id,
                record_id=record_id,
                owner_id=owner_id,
                starts_at=starts_at or now,
                ends_at=ends_at,
                reason=reason,
                created_by=created_by,
                now=now,
            )

    def silences(self, now: datetime, include_ended: bool = False) -> list[SilenceEntry]:
        """Silences not yet ended at ``now`` (or every one ever set)."""
        with transaction(self._engine, write=False) as session:
            return silences.active(session, now, include_ended=include_ended)

    def remove_silence(self, silence_id: int, now: datetime) -> SilenceEntry:
        """End a silence now; raises :class:`UnknownSilence` for an unknown id."""
        with transaction(self._engine, write=True) as session:
            return silences.remove(session, silence_id, now)


def _open_episodes(
    session: Session, records: Mapping[str, Collection[str]] | None
) -> dict[tuple[str, str], OpenEpisode]:
    wanted: ColumnElement[bool] = EpisodeRow.closed_at.is_(None)
    if records is not None:
        wanted = and_(
            wanted,
            or_(
                false(),
                *(
                    and_(EpisodeRow.rule_id == rule, EpisodeRow.record_id.in_(list(ids)))
                    for rule, ids in records.items()
                ),
            ),
        )
    rows = session.scalars(
        select(EpisodeRow).where(wanted).order_by(EpisodeRow.clock_start, EpisodeRow.id)
    ).all()
    past: defaultdict[int, list[PastNotification]] = defaultdict(list)
    notes = session.scalars(
        select(NotificationRow).join(EpisodeRow).where(wanted).order_by(NotificationRow.id)
    )
    for n in notes:
        assert n.episode_id is not None
        key = NotificationKey(
            kind=Kind(n.kind),
            tier=n.tier,
            recipient=n.recipient,
            channel="email" if n.channel == "email" else "slack",
            sequence=n.sequence,
        )
        past[n.episode_id].append(
            PastNotification(
                id=n.id,
                key=key,
                status=Status(n.status),
                decided_at=n.decided_at,
                not_before=n.not_before,
            )
        )
    # Ordered by clock start: should two be open for one record, the newest wins.
    return {
        (row.rule_id, row.record_id): OpenEpisode(
            id=row.id,
            key=EpisodeKey(row.rule_id, row.object, row.record_id, row.clock_start),
            owner_id=row.owner_id,
            opened_at=row.opened_at,
            evaluation=decode_evaluation(row.evaluation),
            notifications=tuple(past[row.id]),
        )
        for row in rows
    }
