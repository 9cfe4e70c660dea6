"""Evidence for a record's SLA clock: when it started, and the first touch that stopped it.

Reads a record, its field history and its activities (embedded child relationships when the REST
query fetched them, else the snapshot's rows pointing at the record) and says, with words a rep
understands, what it found. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from alerter.conditions import matches
from alerter.records import (
    Record,
    Snapshot,
    child_records,
    get_field,
    history_object,
    parse_datetime,
)
from alerter.rule import ActivityTouch, Clock, TouchedBy

_RELATIONSHIPS = {"Task": "Tasks", "Event": "Events"}


@dataclass(frozen=True)
class Evidence:
    """A moment in a record's life and how we know it ("Status became MQL (LeadHistory)")."""

    at: datetime | None
    what: str


@dataclass(frozen=True)
class Timeline:
    """What one record's data says about one rule's clock."""

    start: Evidence | None
    touch: Evidence | None
    looked_for: str
    missing: str = ""
    """Why there is no start, when there is none."""


def read_timeline(
    clock: Clock,
    object_name: str,
    record: Record,
    snapshot: Snapshot,
    zone: ZoneInfo,
    now: datetime,
) -> Timeline:
    """Find the clock start and, unless the clock runs from the last touch, the first touch."""
    history = _history(object_name, record, snapshot, now)
    touches = sorted(
        _touches(clock.touched_by, record, history, snapshot, zone, now),
        key=lambda touch: touch.at or datetime.min.replace(tzinfo=zone),
    )
    start, missing = _start(clock, record, history, touches, zone)
    if start is not None and clock.restarts_on_owner_change:
        start = _restart(start, history, zone)
    looked_for = clock.touched_by.describe()
    if start is None or start.at is None or clock.starts_at.last_touch:
        return Timeline(start, None, looked_for, missing)
    after = [t for t in touches if t.at is None or t.at > start.at]
    return Timeline(start, after[0] if after else None, looked_for)


def _start(
    clock: Clock, record: Record, history: list[Record], touches: list[Evidence], zone: ZoneInfo
) -> tuple[Evidence | None, str]:
    """The clock start, and what was missing when the rule's source found nothing."""
    spec = clock.starts_at
    found: Evidence | None = None
    if spec.field is not None:
        at = parse_datetime(get_field(record, spec.field))
        found = Evidence(at, f"{spec.field} {when(at, zone)}") if at else None
        missing = f"{spec.field} is empty"
    elif spec.entered_status is not None:
        status = spec.entered_status.casefold()
        rows = [r for r in _changes(history, "Status") if _text(r.get("NewValue")) == status]
        found = _latest(rows, f"Status became {spec.entered_status}", zone)
        missing = f"no history of Status becoming {spec.entered_status}"
    elif spec.owner_assigned:
        found = _latest(_changes(history, "Owner"), "owner assigned", zone)
        missing = "no history of an owner change"
    else:
        dated = [t for t in touches if t.at is not None]
        found = Evidence(dated[-1].at, f"last touch: {dated[-1].what}") if dated else None
        missing = f"no touch yet ({clock.touched_by.describe()})"
    if found is None and spec.otherwise is not None:
        at = parse_datetime(get_field(record, spec.otherwise))
        if at is None:
            missing += f", and {spec.otherwise} is empty"
        else:
            found = Evidence(at, f"{missing}; {spec.otherwise} {when(at, zone)} used")
    return found, missing


def _restart(start: Evidence, history: list[Record], zone: ZoneInfo) -> Evidence:
    later = [r for r in _changes(history, "Owner") if start.at and (_at(r) or start.at) > start.at]
    newest = _latest(later, "owner changed", zone)
    if newest is None:
        return start
    return Evidence(newest.at, f"{start.what}; restarted: {newest.what}")


def _touches(
    signals: TouchedBy,
    record: Record,
    history: list[Record],
    snapshot: Snapshot,
    zone: ZoneInfo,
    now: datetime,
) -> Iterable[Evidence]:
    for kind, spec in (("Task", signals.tasks), ("Event", signals.events)):
        if spec is not None:
            yield from _activities(kind, spec, record, snapshot, zone, now)
    if signals.status_change:
        for row in _changes(history, "Status"):
            at = _at(row)
            yield Evidence(at, f"Status changed to {row.get('NewValue')} {when(at, zone)}")
    if signals.owner_change:
        for row in _changes(history, "Owner"):
            at = _at(row)
            yield Evidence(at, f"owner changed {when(at, zone)}")
    for name in signals.fields_set:
        value = get_field(record, name, snapshot)
        at = parse_datetime(value)
        if value not in (None, False) and (at is None or at <= now):
            yield Evidence(at, f"{name} set {when(at, zone)}" if at else f"{name} is set")


def _activities(
    kind: str,
    spec: ActivityTouch,
    record: Record,
    snapshot: Snapshot,
    zone: ZoneInfo,
    now: datetime,
) -> Iterable[Evidence]:
    rows = child_records(record, _RELATIONSHIPS[kind])
    if rows is None:
        rows = snapshot.related(kind, str(record.get("Id")))
    for row in _as_of(rows, now):
        at = _at(row)
        if at is not None and all(matches(c, row, now, snapshot) for c in spec.where):
            label = row.get("Subject") or row.get("Type") or row.get("Id")
            yield Evidence(at, f"{kind} {label!r} {when(at, zone)}")


def _history(object_name: str, record: Record, snapshot: Snapshot, now: datetime) -> list[Record]:
    rows = child_records(record, "Histories")
    if rows is None:
        rows = snapshot.related(history_object(object_name), str(record.get("Id")))
    return _as_of(rows, now)


def _as_of(rows: list[Record], now: datetime) -> list[Record]:
    """Rows that exist at ``now``: a rule test can give one timeline and evaluate it at several
    moments, and a record's future is never evidence."""
    return [row for row in rows if (at := _at(row)) is None or at <= now]


def _changes(history: list[Record], field: str) -> list[Record]:
    return [row for row in history if _text(row.get("Field")) == field.casefold() and _at(row)]


def _latest(rows: list[Record], what: str, zone: ZoneInfo) -> Evidence | None:
    dated = [(at, row) for row in rows if (at := _at(row)) is not None]
    if not dated:
        return None
    at = max(at for at, _ in dated)
    return Evidence(at, f"{what} {when(at, zone)} (history)")


def _at(row: Record) -> datetime | None:
    return parse_datetime(row.get("CreatedDate"))


def _text(value: object) -> str:
    return str(value).casefold() if value is not None else ""


def when(at: datetime | None, zone: ZoneInfo) -> str:
    """A moment in the calendar's zone, short enough for a line: ``at Tue 01 Dec 09:12 EST``."""
    if at is None:
        return "at an unknown time"
    return "at " + moment_text(at, zone)


def moment_text(at: datetime, zone: ZoneInfo) -> str:
    """How every message and explanation writes a moment: ``Tue 01 Dec 09:12 EST``."""
    return at.astimezone(zone).strftime("%a %d %b %H:%M %Z")
