"""The pure core: rules x records x now -> where each record stands against each rule's SLA.

``evaluate`` reads no clock and does no I/O; the scheduler, the CLI and the tests hand it ``now``.
Every result carries its own explanation, so a nudge can say why it was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from alerter.clock import read_timeline, when
from alerter.conditions import matches
from alerter.durations import format_timedelta
from alerter.records import Record, Snapshot
from alerter.rule import Rule


class State(StrEnum):
    """Where a record stands against a rule."""

    NOT_DUE = "not_due"
    WARNING = "warning"
    BREACHED = "breached"
    STOPPED = "stopped"
    NO_CLOCK = "no_clock"


@dataclass(frozen=True)
class Evaluation:
    """One record under one rule at one moment, and the evidence for it.

    ``tier`` is the 1-based escalation tier reached (None before the first tier fires);
    ``overdue`` is measured in the SLA's kind of time (business or calendar); ``next_change``
    is when the state will change by itself (warning, deadline, next tier), for wake-ups.
    """

    rule_id: str
    object: str
    record_id: str
    name: str
    owner_id: str | None
    state: State
    clock_start: datetime | None
    due: datetime | None
    overdue: timedelta | None
    tier: int | None
    next_change: datetime | None
    explanation: str
    fields: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The record's own fields and parent lookups (no child rows), for messages."""


def evaluate(rules: Iterable[Rule], snapshot: Snapshot, now: datetime) -> list[Evaluation]:
    """Evaluate every in-scope record of every rule at ``now`` (an aware datetime)."""
    return [
        evaluation
        for rule in rules
        for evaluation in evaluate_rule(rule, snapshot.records(rule.object), snapshot, now)
    ]


def evaluate_rule(
    rule: Rule, records: Iterable[Record], snapshot: Snapshot, now: datetime
) -> Iterator[Evaluation]:
    """Evaluate the in-scope ones of a stream of the rule's records (a snapshot's, or pages of a
    live query: ``snapshot`` then only serves lookups)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    for record in records:
        if all(matches(condition, record, now, snapshot) for condition in rule.where):
            yield evaluate_record(rule, record, snapshot, now)


def evaluate_record(rule: Rule, record: Record, snapshot: Snapshot, now: datetime) -> Evaluation:
    """Evaluate one in-scope record."""
    calendar, zone = rule.calendar, rule.calendar.zone
    timeline = read_timeline(rule.clock, rule.object, record, snapshot, zone, now)
    start = timeline.start.at if timeline.start else None
    due = next_change = None
    overdue = None
    tier = None
    if timeline.start is None or start is None:
        state, explanation = State.NO_CLOCK, f"no clock start: {timeline.missing}"
    elif timeline.touch is not None:
        state = State.STOPPED
        explanation = f"clock started: {timeline.start.what}; touched: {timeline.touch.what}"
    else:
        due = calendar.shift(start, rule.sla)
        tier_times = [calendar.shift(due, t.after) for t in rule.escalation]
        warn_at = calendar.shift(due, -rule.warning.before) if rule.warning else None
        next_change = min((m for m in (warn_at, due, *tier_times) if m and m > now), default=None)
        explanation = f"clock started: {timeline.start.what}; "
        if rule.clock.touched_by.any():
            explanation += f"no {timeline.looked_for} after it; "
        explanation += f"due {when(due, zone).removeprefix('at ')}"
        if now < due:
            left = calendar.measure(now, due, rule.sla.business)
            state = State.WARNING if warn_at is not None and now >= warn_at else State.NOT_DUE
            explanation += f", {format_timedelta(left)} left"
        else:
            state = State.BREACHED
            overdue = calendar.measure(due, now, rule.sla.business)
            reached = [index + 1 for index, at in enumerate(tier_times) if now >= at]
            tier = reached[-1] if reached else None
            kind = " of business time" if rule.sla.business else ""
            explanation += f", {format_timedelta(overdue)}{kind} overdue"
    return Evaluation(
        rule_id=rule.id,
        object=rule.object,
        record_id=str(record.get("Id")),
        name=record_name(record),
        owner_id=record.get("OwnerId"),
        state=state,
        clock_start=start,
        due=due,
        overdue=overdue,
        tier=tier,
        next_change=next_change,
        explanation=explanation,
        fields={k: v for k, v in record.items() if k != "attributes" and not _is_children(v)},
    )


def record_name(record: Record) -> str:
    """What a person calls the record: its Name, else first and last name, else Subject or Id."""
    name = record.get("Name")
    if not name:
        name = " ".join(str(record[k]) for k in ("FirstName", "LastName") if record.get(k))
    return str(name or record.get("Subject") or record.get("Id"))


def _is_children(value: object) -> bool:
    """A child relationship result (``{"totalSize", "done", "records"}``)."""
    return isinstance(value, Mapping) and "records" in value
