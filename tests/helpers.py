"""Small builders for rules and Salesforce REST records, so each test shows only what it varies.

Record datetimes are written by hand in the REST form (``2026-12-01T20:00:00.000+0000``, UTC);
expected instants are written by hand with ``utc(...)``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alerter.calendars import CalendarSpec
from alerter.evaluate import Evaluation, evaluate
from alerter.records import Snapshot
from alerter.rule import Rule, rule_problems

US_SALES = CalendarSpec(
    time_zone="America/New_York",
    hours={"weekdays": "09:00-17:00"},
    holidays={"country": "US", "dates": ["2026-12-24", "2026-12-31"]},
).build("us-sales")
CONTEXT = {"calendars": {"us-sales": US_SALES}}

REP = "005000000000AL1"
OTHER_REP = "005000000000BB1"
QUEUE = "00G000000000IQ1"

MQL_RULE: dict[str, Any] = {
    "id": "mql-first-touch",
    "title": "New MQL not touched within 1 business hour",
    "object": "Lead",
    "where": [{"field": "Status", "equals": "MQL"}],
    "clock": {
        "starts_at": {"entered_status": "MQL", "otherwise": "CreatedDate"},
        "touched_by": {
            "tasks": {"where": [{"field": "TaskSubtype", "not_equals": "ListEmail"}]},
            "events": True,
        },
    },
    "sla": "1 business hour",
    "calendar": "us-sales",
    "warning": {"before": "15 minutes", "to": "owner", "template": "due-soon"},
    "escalation": [
        {"to": "owner", "template": "nudge"},
        {
            "after": "2 business hours",
            "to": ["manager", "#sales-leads"],
            "via": ["slack", "email"],
            "template": "escalation",
        },
    ],
}


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """An instant written in UTC."""
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def make_rule(**changes: Any) -> Rule:
    """The 1-business-hour MQL rule with top-level keys replaced; must be a valid rule."""
    rule = Rule.model_validate({**MQL_RULE, **changes}, context=CONTEXT)
    assert rule_problems(rule) == []
    return rule


def lead(record_id: str = "00Q000000000001", **fields: Any) -> dict[str, Any]:
    """An open MQL lead owned by a rep, created long before the tests' moments."""
    return {
        "attributes": {"type": "Lead"},
        "Id": record_id,
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Status": "MQL",
        "OwnerId": REP,
        "IsConverted": False,
        "CreatedDate": "2026-11-02T14:00:00.000+0000",
        **fields,
    }


def history(
    lead_id: str, at: str, field: str = "Status", new: str = "MQL", old: str = "Open"
) -> dict[str, Any]:
    """A LeadHistory row."""
    return {
        "Id": f"017{at}",
        "LeadId": lead_id,
        "Field": field,
        "OldValue": old,
        "NewValue": new,
        "CreatedDate": at,
    }


def task(
    parent_id: str, at: str, subject: str = "Call: intro", subtype: str = "Call"
) -> dict[str, Any]:
    """A Task on a lead (WhoId)."""
    return {
        "Id": f"00T{at}",
        "WhoId": parent_id,
        "Subject": subject,
        "TaskSubtype": subtype,
        "CreatedDate": at,
    }


def event(parent_id: str, at: str, subject: str = "Demo") -> dict[str, Any]:
    """An Event on a lead (WhoId)."""
    return {"Id": f"00U{at}", "WhoId": parent_id, "Subject": subject, "CreatedDate": at}


def snapshot(**objects: list[dict[str, Any]]) -> Snapshot:
    """A snapshot from keyword lists: ``snapshot(Lead=[...], Task=[...])``."""
    return Snapshot(objects)


def only(rule: Rule, data: Snapshot, now: datetime) -> Evaluation:
    """The single evaluation of a rule over a snapshot holding one in-scope record."""
    (result,) = evaluate([rule], data, now)
    return result


def mql_at(at: str, record_id: str = "00Q000000000001", **fields: Any) -> Snapshot:
    """One MQL lead whose Status became MQL at ``at`` (a REST datetime)."""
    return snapshot(Lead=[lead(record_id, **fields)], LeadHistory=[history(record_id, at)])
