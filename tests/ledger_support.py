"""Builders for the ledger suite: a breached lead, its episode key, a decided notification.

Each test shows only what it varies; the backends are in ``ledger_backends``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alerter.delivery.model import Kind, Notification
from alerter.episodes import Decided, EpisodeKey, NotificationKey, Status
from alerter.evaluate import Evaluation, State
from alerter.rule import Recipient
from alerter.settings import OutboxSettings

POSTGRES_ENV = "ALERTER_TEST_POSTGRES_URL"
EXAMPLE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
START = datetime(2026, 12, 1, 19, 50, tzinfo=UTC)
RULE = "mql-first-touch"
REP = "005000000000AL1"
POLICY = OutboxSettings(max_attempts=3, max_age=timedelta(hours=24), retry_base=10, retry_max=60)


def evaluation(
    record_id: str = "00Q000000000001",
    *,
    state: State = State.BREACHED,
    clock_start: datetime = START,
    tier: int | None = 1,
    owner_id: str | None = REP,
    rule_id: str = RULE,
    fields: dict[str, Any] | None = None,
) -> Evaluation:
    """A breached lead one hour past its deadline, unless told otherwise."""
    due = clock_start + timedelta(hours=1)
    return Evaluation(
        rule_id=rule_id,
        object="Lead",
        record_id=record_id,
        name="Ada Lovelace",
        owner_id=owner_id,
        state=state,
        clock_start=clock_start,
        due=due,
        overdue=timedelta(minutes=10) if state is State.BREACHED else None,
        tier=tier,
        next_change=due + timedelta(hours=2),
        explanation="clock started: Status became MQL",
        fields=fields if fields is not None else {"Id": record_id, "Company": "Analytical"},
    )


def key_of(ev: Evaluation) -> EpisodeKey:
    assert ev.clock_start is not None
    return EpisodeKey(ev.rule_id, ev.object, ev.record_id, ev.clock_start)


def notification(
    ev: Evaluation, kind: Kind = Kind.BREACH, recipient: str = "owner", tier: int = 1
) -> Notification:
    return Notification(
        kind=kind,
        rule_id=ev.rule_id,
        rule_title="New MQL not touched within 1 business hour",
        evaluation=ev,
        recipient=Recipient("owner") if recipient == "owner" else Recipient("channel", recipient),
        channel="slack",
        template="nudge",
        tier=tier,
    )


def decided(
    ev: Evaluation,
    *,
    kind: Kind = Kind.BREACH,
    tier: int = 1,
    sequence: int = 0,
    status: Status = Status.QUEUED,
    not_before: datetime = NOW,
    budget_key: str = f"user:{REP}",
    recipient: str = "owner",
) -> Decided:
    """A notification to the owner on Slack about ``ev``'s episode."""
    return Decided(
        episode=key_of(ev),
        key=NotificationKey(kind, tier, recipient, "slack", sequence),
        notification=notification(ev, kind, recipient, tier),
        status=status,
        not_before=not_before,
        budget_key=budget_key,
        reason="first breach" if sequence == 0 else f"repeat {sequence} of tier {tier}",
    )
