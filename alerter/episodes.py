"""What the ledger remembers, as the pure ``decide`` step sees it, and what ``decide`` hands back.

An **episode** is one breach story: one record under one rule from one clock start. It opens
when the record is first seen in warning or breached, and closes when the record is touched,
leaves the rule, is deleted, or its clock restarts (a re-qualified lead is a new episode).

A **notification** is one decided message of an episode, identified by its
:class:`NotificationKey`; the ledger's unique constraints on (episode, key) make deciding the
same message twice impossible, not merely unlikely.

    evaluations + LedgerView + now --decide--> Decision --ledger.record--> rows (the outbox)

Everything here is plain data: no SQL, no clock reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from alerter.delivery.model import Channel, Kind, Notification
from alerter.evaluate import Evaluation


class Status(StrEnum):
    """Where a notification stands. Nothing is ever deleted; every status is a final word or a
    step towards one."""

    QUEUED = "queued"
    """Decided, waiting to be sent (from ``not_before`` on, and ``next_attempt_at`` after a
    retryable failure)."""
    SENDING = "sending"
    """Claimed by a sender; a crash leaves it here, and a restart re-queues it (sent again at
    most once)."""
    SENT = "sent"
    FAILED = "failed"
    """Permanently failed, or out of attempts; ``last_error`` says why."""
    SILENCED = "silenced"
    """Decided while a silence held; released (back to queued) if the breach still holds when
    the silence ends."""
    FOLDED = "folded"
    """Over the recipient's hourly budget: told in a summary message instead."""
    CANCELLED = "cancelled"
    """Never sent: its episode closed while it waited (quiet hours, silence)."""


BUDGETED = (Status.QUEUED, Status.SENDING, Status.SENT, Status.FAILED)
"""Statuses that count against a recipient's hourly budget: sent, or meant to be sent, on
their own (a failed one was meant to)."""


@dataclass(frozen=True)
class EpisodeKey:
    """Identifies an episode: a new clock start is a new episode."""

    rule_id: str
    object: str
    record_id: str
    clock_start: datetime


@dataclass(frozen=True)
class NotificationKey:
    """Identifies a notification within its episode. ``tier`` is 0 for a warning; ``sequence``
    counts repeats of a tier (0 for the first message of the tier). ``recipient`` is the rule's
    recipient as written (``str(Recipient)``: ``owner``, ``manager``, ``#sales``, an address)."""

    kind: Kind
    tier: int
    recipient: str
    channel: Channel
    sequence: int = 0


@dataclass(frozen=True)
class PastNotification:
    """A notification the ledger holds for an open episode."""

    id: int
    key: NotificationKey
    status: Status
    decided_at: datetime
    not_before: datetime


@dataclass(frozen=True)
class OpenEpisode:
    """An episode not yet closed, with every notification decided for it so far.
    ``evaluation`` is the latest one recorded (what a resolved message shows after the record
    left the rule)."""

    id: int
    key: EpisodeKey
    owner_id: str | None
    opened_at: datetime
    evaluation: Evaluation
    notifications: tuple[PastNotification, ...] = ()


@dataclass(frozen=True)
class Silence:
    """Hold notifications matching every given criterion (rule, record, owner; at least one)
    from ``starts_at`` until ``ends_at``."""

    id: int
    rule_id: str | None
    record_id: str | None
    owner_id: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str

    def covers(self, evaluation: Evaluation, now: datetime) -> bool:
        """Whether this silence holds ``evaluation``'s notifications at ``now``."""
        return (
            self.starts_at <= now < self.ends_at
            and self.rule_id in (None, evaluation.rule_id)
            and self.record_id in (None, evaluation.record_id)
            and self.owner_id in (None, evaluation.owner_id)
        )


@dataclass(frozen=True)
class LedgerView:
    """What ``decide`` needs to know of the past, read in one go at the start of a cycle.

    ``episodes`` are the open ones by (rule id, record id); ``silences`` those not yet ended;
    ``recent`` counts, per budget key, the notifications decided in the last hour that were
    or will be sent on their own (not folded, silenced or cancelled)."""

    episodes: Mapping[tuple[str, str], OpenEpisode] = field(default_factory=dict)
    silences: tuple[Silence, ...] = ()
    recent: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Coverage:
    """Which records a cycle looked at, per rule: an episode whose record was looked at and not
    found has left the rule (or was deleted); one whose record was not looked at (a rule
    disabled by a query error, a targeted re-check of other Ids) stays as it is.

    ``rules`` were read whole; ``records`` maps a rule id to the Ids re-checked for it."""

    rules: frozenset[str] = frozenset()
    records: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def looked_at(self, rule_id: str, record_id: str) -> bool:
        return rule_id in self.rules or record_id in self.records.get(rule_id, frozenset())


@dataclass(frozen=True)
class Decided:
    """A notification to record: ``status`` is queued, silenced or folded. ``episode`` is None
    only for a summary, whose ``items`` are the notifications it folds. ``budget_key`` names
    the person or place it counts against (``user:005...``, ``manager-of:005...``,
    ``#channel``, an address). ``reason`` is for history ("first breach", "repeat 2 of tier 1",
    "held for quiet hours until Wed 02 Dec 09:00 EST"). Where it goes is decided when it is
    sent (routing), and recorded then."""

    episode: EpisodeKey | None
    key: NotificationKey
    notification: Notification
    status: Status
    not_before: datetime
    budget_key: str
    reason: str
    items: tuple[Notification, ...] = ()


@dataclass(frozen=True)
class Closing:
    """An episode to close, and why ("touched: Task 'Call' at ...", "left the rule", "clock
    restarted at ...")."""

    episode_id: int
    reason: str


@dataclass(frozen=True)
class Decision:
    """Everything one cycle decided, recorded by the ledger in one transaction.

    ``opened`` are new episodes with the evaluation that opened them; ``updated`` refreshes the
    latest evaluation of open episodes; ``release`` are silenced notification ids to queue now
    (their silence ended and the breach still holds); ``cancel`` are queued or silenced ids
    never to send: those of episodes closed in this decision, and silenced ones a released
    or newer message of the same tier and recipient supersedes (no burst after a silence)."""

    opened: tuple[tuple[EpisodeKey, Evaluation], ...] = ()
    updated: tuple[tuple[int, Evaluation], ...] = ()
    notify: tuple[Decided, ...] = ()
    close: tuple[Closing, ...] = ()
    release: tuple[int, ...] = ()
    cancel: tuple[int, ...] = ()
