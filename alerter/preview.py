"""What the rules say about some data at some moment, as a table for people or JSON for scripts.

The JSON form is a contract (documented in the README): a list of objects with the keys of
``preview_row``; keys are only ever added, never renamed or removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from alerter.clock import moment_text
from alerter.durations import format_timedelta
from alerter.evaluate import Evaluation, State
from alerter.records import Snapshot
from alerter.rule import Notify, Rule

_ORDER = {
    State.BREACHED: 0,
    State.WARNING: 1,
    State.NOT_DUE: 2,
    State.NO_CLOCK: 3,
    State.STOPPED: 4,
}
_STYLE = {State.BREACHED: "bold red", State.WARNING: "yellow", State.NO_CLOCK: "magenta"}


def notify_for(rule: Rule, evaluation: Evaluation) -> Notify | None:
    """The warning or escalation tier the record's state calls for now, if any."""
    if evaluation.state is State.WARNING:
        return rule.warning
    if evaluation.state is State.BREACHED and evaluation.tier is not None:
        return rule.escalation[evaluation.tier - 1]
    return None


def sort_key(evaluation: Evaluation) -> tuple[int, int, float, float, str, str]:
    """Most urgent first: breaches by tier and overdue, then warnings and the rest by how soon
    they are due."""
    overdue = evaluation.overdue.total_seconds() if evaluation.overdue else 0.0
    due = evaluation.due.timestamp() if evaluation.due else float("inf")
    return (
        _ORDER[evaluation.state],
        -(evaluation.tier or 0),
        -overdue,
        due,
        evaluation.rule_id,
        evaluation.record_id,
    )


def preview_row(evaluation: Evaluation, rule: Rule, snapshot: Snapshot) -> dict[str, Any]:
    """One evaluation as a JSON-ready object."""
    notify = notify_for(rule, evaluation)
    owner = snapshot.by_id(evaluation.owner_id) if evaluation.owner_id else None
    return {
        "rule": evaluation.rule_id,
        "object": evaluation.object,
        "record_id": evaluation.record_id,
        "name": evaluation.name,
        "owner_id": evaluation.owner_id,
        "owner": owner.get("Name") if owner else None,
        "state": evaluation.state.value,
        "tier": evaluation.tier,
        "clock_start": _iso(evaluation.clock_start),
        "due": _iso(evaluation.due),
        "overdue_seconds": (
            int(evaluation.overdue.total_seconds()) if evaluation.overdue is not None else None
        ),
        "next_change": _iso(evaluation.next_change),
        "notify": [str(r) for r in notify.to] if notify else [],
        "via": list(notify.via) if notify else [],
        "template": notify.template if notify else None,
        "explanation": evaluation.explanation,
    }


def preview_rows(
    evaluations: Iterable[Evaluation], rules: Sequence[Rule], snapshot: Snapshot
) -> list[dict[str, Any]]:
    """All evaluations, most urgent first, as JSON-ready objects."""
    by_id = {rule.id: rule for rule in rules}
    return [preview_row(e, by_id[e.rule_id], snapshot) for e in sorted(evaluations, key=sort_key)]


def render_json(rows: list[dict[str, Any]]) -> str:
    """The JSON contract."""
    return json.dumps(rows, indent=2, ensure_ascii=False)


def render_table(
    rows: list[dict[str, Any]],
    rules: Mapping[str, Rule],
    at: datetime,
    console: Console,
    explain: bool = False,
) -> None:
    """A table a person can read: who would be nudged, about what, and how late."""
    table = Table(title=f"SLA preview at {at.isoformat(timespec='minutes')}", expand=False)
    for column in ("Rule", "Record", "Owner", "State", "Due", "Overdue / left", "Would notify"):
        table.add_column(column, overflow="fold")
    if explain:
        table.add_column("Why", overflow="fold")
    for row in rows:
        rule = rules[row["rule"]]
        state = State(row["state"])
        label = f"{row['state']} (tier {row['tier']})" if row["tier"] else row["state"]
        due = datetime.fromisoformat(row["due"]) if row["due"] else None
        cells = [
            row["rule"],
            f"{row['name']}\n{row['record_id']}",
            row["owner"] or row["owner_id"] or "",
            f"[{_STYLE.get(state, '')}]{label}[/]" if state in _STYLE else label,
            moment_text(due, rule.calendar.zone) if due else "",
            _lateness(row, due, at, rule),
            ", ".join(row["notify"]) + (f" via {', '.join(row['via'])}" if row["via"] else ""),
        ]
        table.add_row(*cells, *([row["explanation"]] if explain else []))
    console.print(table)
    counts = {s: sum(1 for r in rows if r["state"] == s.value) for s in State}
    console.print(", ".join(f"{n} {s.value}" for s, n in counts.items() if n) or "nothing in scope")


def _lateness(row: dict[str, Any], due: datetime | None, at: datetime, rule: Rule) -> str:
    if row["overdue_seconds"] is not None:
        return format_timedelta(timedelta(seconds=row["overdue_seconds"])) + " over"
    if due is not None and due > at:
        return format_timedelta(rule.calendar.measure(at, due, rule.sla.business)) + " left"
    return ""


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None
