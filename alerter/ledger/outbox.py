"""The outbox: notification rows waiting to be sent, claimed by senders and marked after.

    queued --claim--> sending --mark_sent--> sent
                              --mark_failed(retryable)--> queued (next_attempt_at: back-off)
                              --mark_failed(permanent, out of attempts, too old)--> failed
                              --recover (the sender died)--> queued, or failed if out of tries

Every notification is written before it is sent, so a crash loses nothing: a row left in
``sending`` goes back to the queue and is sent again, at most once per crash. Two senders never
hold the same row: PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``, SQLite takes its single
write lock (``BEGIN IMMEDIATE``) for the claim.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from alerter.delivery.model import Address, Notification
from alerter.episodes import Status
from alerter.ledger.codec import decode_payload, encode_address
from alerter.ledger.schema import NotificationRow
from alerter.settings import OutboxSettings

LOST = "lost"
"""``error_code`` of a row whose sender stopped between claiming and marking it."""


@dataclass(frozen=True)
class OutboxItem:
    """A claimed notification, everything a sender needs without another query.

    ``attempts`` counts this one; ``items`` are what a summary folds (empty otherwise)."""

    id: int
    notification: Notification
    attempts: int
    items: tuple[Notification, ...]
    episode_id: int | None
    budget_key: str
    reason: str
    not_before: datetime


def claim(session: Session, now: datetime, *, worker: str, limit: int) -> list[OutboxItem]:
    """Take up to ``limit`` due rows, oldest first, and mark them ``sending`` by ``worker``."""
    due = (
        select(NotificationRow.id)
        .where(
            NotificationRow.status == Status.QUEUED.value,
            NotificationRow.not_before <= now,
            or_(NotificationRow.next_attempt_at.is_(None), NotificationRow.next_attempt_at <= now),
        )
        .order_by(NotificationRow.not_before, NotificationRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    )
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(
        update(NotificationRow)
        .where(NotificationRow.id.in_(ids))
        .values(
            status=Status.SENDING.value,
            claimed_by=worker,
            claimed_at=now,
            attempts=NotificationRow.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.scalars(
        select(NotificationRow)
        .where(NotificationRow.id.in_(ids))
        .order_by(NotificationRow.not_before, NotificationRow.id)
        .execution_options(populate_existing=True)
    )
    return [_item(row) for row in rows]


def _item(row: NotificationRow) -> OutboxItem:
    notification, items = decode_payload(row.payload)
    return OutboxItem(
        id=row.id,
        notification=notification,
        attempts=row.attempts,
        items=items,
        episode_id=row.episode_id,
        budget_key=row.budget_key,
        reason=row.reason,
        not_before=row.not_before,
    )


def mark_sent(
    session: Session,
    row_id: int,
    *,
    detail: str,
    now: datetime,
    tried: Sequence[Address] = (),
) -> bool:
    """Record a delivery, and the addresses tried (the last one took it). A row re-queued by
    ``recover`` meanwhile counts too: its sender was slow, not dead, and marking it sent
    spares the recipient a duplicate."""
    result = session.execute(
        update(NotificationRow)
        .where(
            NotificationRow.id == row_id,
            NotificationRow.status.in_([Status.SENDING.value, Status.QUEUED.value]),
        )
        .values(
            status=Status.SENT.value,
            sent_at=now,
            detail=detail,
            next_attempt_at=None,
            addresses=[encode_address(address) for address in tried],
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_failed(
    session: Session,
    row_id: int,
    *,
    error: str,
    code: str,
    retryable: bool,
    now: datetime,
    policy: OutboxSettings,
    rng: random.Random,
    retry_after: timedelta | None = None,
    tried: Sequence[Address] = (),
) -> Status | None:
    """Record a failed send and the addresses tried; the row's new status (None if it was not
    being sent).

    A retryable failure goes back to the queue after an exponential back-off with jitter (at
    least ``retry_after`` when the service named one), unless the row is out of attempts or
    older than ``max_age`` counted from when it became due (a notification held for quiet
    hours is not stale at 8 a.m. for having been decided at 5 p.m.)."""
    row = session.scalars(
        select(NotificationRow).where(NotificationRow.id == row_id).with_for_update()
    ).one_or_none()
    if row is None or row.status != Status.SENDING.value:
        return None
    row.last_error, row.error_code = error, code or None
    row.addresses = [encode_address(address) for address in tried]
    exhausted = row.attempts >= policy.max_attempts or now - row.not_before >= policy.max_age
    if retryable and not exhausted:
        row.status = Status.QUEUED.value
        row.next_attempt_at = now + backoff(row.attempts, policy, rng, retry_after)
    else:
        row.status = Status.FAILED.value
        row.next_attempt_at = None
    return Status(row.status)


def backoff(
    attempts: int, policy: OutboxSettings, rng: random.Random, retry_after: timedelta | None
) -> timedelta:
    """The wait after the ``attempts``-th try: between half and all of base x 2^(n-1), capped
    at ``retry_max``; the random half spreads retries of a burst apart."""
    ceiling = min(policy.retry_max, policy.retry_base * 2 ** max(attempts - 1, 0))
    wait = timedelta(seconds=ceiling * (0.5 + rng.random() / 2))
    return max(wait, retry_after) if retry_after is not None else wait


def recover(
    session: Session, now: datetime, *, stale_after: timedelta, policy: OutboxSettings
) -> list[int]:
    """Re-queue rows stuck in ``sending`` since before ``now - stale_after``: their sender
    stopped between sending and marking. Rows out of attempts fail instead. Returns the ids
    re-queued."""
    stuck = session.scalars(
        select(NotificationRow)
        .where(
            NotificationRow.status == Status.SENDING.value,
            NotificationRow.claimed_at <= now - stale_after,
        )
        .order_by(NotificationRow.id)
        .with_for_update(skip_locked=True)
    ).all()
    requeued = []
    for row in stuck:
        row.error_code = LOST
        row.last_error = f"sender {row.claimed_by} stopped before marking it"
        if row.attempts >= policy.max_attempts:
            row.status = Status.FAILED.value
        else:
            row.status = Status.QUEUED.value
            row.next_attempt_at = None
            requeued.append(row.id)
    return requeued


def depth(session: Session, now: datetime) -> tuple[int, timedelta | None]:
    """How many queued rows are due (not held for later), and how long the oldest has waited."""
    count, oldest = session.execute(
        select(func.count(), func.min(NotificationRow.not_before)).where(
            NotificationRow.status == Status.QUEUED.value, NotificationRow.not_before <= now
        )
    ).one()
    if not count:
        return 0, None
    return int(count), now - oldest
