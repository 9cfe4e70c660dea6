"""The clock's evidence: where a record's SLA clock starts and which touch stops it.

Records hold REST datetimes in UTC; New York is UTC-5 in December. Expected instants are written
by hand in UTC, with the New York reading in the test's docstring or a comment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from helpers import (
    OTHER_REP,
    QUEUE,
    event,
    history,
    lead,
    make_rule,
    snapshot,
    task,
    utc,
)

from alerter.clock import Timeline, read_timeline
from alerter.records import Snapshot
from alerter.rule import Rule

LEAD = "00Q000000000001"
NOW = utc(2026, 12, 2, 15, 0)  # Wednesday 10:00 New York, after everything below
MQL = "2026-12-01T20:00:00.000+0000"  # Tuesday 15:00 New York


def timeline(rule: Rule, data: Snapshot, now: datetime = NOW) -> Timeline:
    """The timeline of the snapshot's only record of the rule's object."""
    (record,) = data.records(rule.object)
    return read_timeline(rule.clock, rule.object, record, data, rule.calendar.zone, now)


def clock(starts_at: dict[str, Any], **touched_by: Any) -> Rule:
    """The MQL rule with another clock."""
    return make_rule(clock={"starts_at": starts_at, "touched_by": touched_by or {"tasks": True}})


class TestStart:
    def test_from_a_datetime_field(self) -> None:
        """A datetime field on the record starts the clock, and the evidence names the field."""
        data = snapshot(Lead=[lead(MQL_Date__c="2026-12-01T20:03:00.000+0000")])
        start = timeline(clock({"field": "MQL_Date__c"}), data).start
        assert start is not None
        assert start.at == utc(2026, 12, 1, 20, 3)
        assert "MQL_Date__c" in start.what
        assert "15:03 EST" in start.what

    def test_entered_status_takes_the_latest_entry(self) -> None:
        """A lead that became an MQL twice is timed from the second time."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[
                history(LEAD, "2026-11-30T15:00:00.000+0000"),
                history(LEAD, "2026-12-01T20:00:00.000+0000"),
                history(LEAD, "2026-11-30T16:00:00.000+0000", new="Working", old="MQL"),
            ],
        )
        start = timeline(make_rule(), data).start
        assert start is not None
        assert start.at == utc(2026, 12, 1, 20, 0)
        assert "Status became MQL" in start.what

    def test_entered_status_ignores_other_statuses(self) -> None:
        """Becoming Working later does not move the start of an MQL clock."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[
                history(LEAD, MQL),
                history(LEAD, "2026-12-01T21:00:00.000+0000", new="Working", old="MQL"),
            ],
        )
        start = timeline(make_rule(), data).start
        assert start is not None
        assert start.at == utc(2026, 12, 1, 20, 0)

    def test_entered_status_matches_case_insensitively(self) -> None:
        """History that says 'mql' counts for a rule that says MQL, as SOQL would compare."""
        data = snapshot(Lead=[lead()], LeadHistory=[history(LEAD, MQL, new="mql")])
        start = timeline(make_rule(), data).start
        assert start is not None
        assert start.at == utc(2026, 12, 1, 20, 0)

    def test_owner_assigned_takes_the_latest_owner_change(self) -> None:
        """The clock of a queued lead starts when it was last assigned."""
        data = snapshot(
            Lead=[lead(OwnerId=QUEUE)],
            LeadHistory=[
                history(LEAD, "2026-12-01T19:00:00.000+0000", field="Owner", new=OTHER_REP),
                history(LEAD, "2026-12-01T20:30:00.000+0000", field="Owner", new=QUEUE),
            ],
        )
        start = timeline(clock({"owner_assigned": True}), data).start
        assert start is not None
        assert start.at == utc(2026, 12, 1, 20, 30)
        assert "owner assigned" in start.what

    def test_last_touch_takes_the_latest_activity(self) -> None:
        """A last-touch clock runs from the newest Task or Event and is never stopped."""
        rule = clock({"last_touch": True}, tasks=True, events=True)
        data = snapshot(
            Lead=[lead()],
            Task=[task(LEAD, "2026-11-02T15:00:00.000+0000")],
            Event=[event(LEAD, "2026-11-20T19:00:00.000+0000", subject="Demo")],
        )
        found = timeline(rule, data)
        assert found.start is not None
        assert found.start.at == utc(2026, 11, 20, 19, 0)
        assert "last touch: Event 'Demo'" in found.start.what
        assert found.touch is None

    def test_otherwise_is_the_fallback(self) -> None:
        """With no history of the status, the ``otherwise`` field starts the clock."""
        data = snapshot(Lead=[lead(CreatedDate="2026-12-01T14:30:00.000+0000")])
        start = timeline(make_rule(), data).start
        assert start is not None
        assert start.at == utc(2026, 12, 1, 14, 30)
        assert "no history of Status becoming MQL" in start.what
        assert "CreatedDate" in start.what

    def test_otherwise_is_not_used_when_the_source_is_found(self) -> None:
        """CreatedDate does not win over the history just because it is earlier."""
        data = snapshot(
            Lead=[lead(CreatedDate="2026-11-02T14:00:00.000+0000")],
            LeadHistory=[history(LEAD, MQL)],
        )
        start = timeline(make_rule(), data).start
        assert start is not None
        assert start.at == utc(2026, 12, 1, 20, 0)

    def test_nothing_found(self) -> None:
        """Without the field and without a fallback there is no start."""
        data = snapshot(Lead=[lead()])
        assert timeline(clock({"field": "MQL_Date__c"}), data).start is None

    def test_empty_otherwise_gives_no_start(self) -> None:
        """A fallback field that is empty too gives no start."""
        data = snapshot(Lead=[lead(CreatedDate=None)])
        assert timeline(make_rule(), data).start is None


class TestTouch:
    def test_task_after_start_stops(self) -> None:
        """A call one second after the lead became an MQL is its first touch."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history(LEAD, MQL)],
            Task=[task(LEAD, "2026-12-01T20:00:01.000+0000")],
        )
        touch = timeline(make_rule(), data).touch
        assert touch is not None
        assert touch.at == utc(2026, 12, 1, 20, 0, 1)
        assert "Task 'Call: intro'" in touch.what

    def test_first_of_several_touches(self) -> None:
        """The earliest touch after the start is the one reported, whatever the row order."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history(LEAD, MQL)],
            Task=[
                task(LEAD, "2026-12-01T21:00:00.000+0000", subject="Second"),
                task(LEAD, "2026-12-01T20:20:00.000+0000", subject="First"),
            ],
        )
        touch = timeline(make_rule(), data).touch
        assert touch is not None
        assert touch.at == utc(2026, 12, 1, 20, 20)

    def test_event_after_start_stops(self) -> None:
        """A meeting counts as a touch too."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history(LEAD, MQL)],
            Event=[event(LEAD, "2026-12-01T20:30:00.000+0000")],
        )
        touch = timeline(make_rule(), data).touch
        assert touch is not None
        assert "Event 'Demo'" in touch.what

    def test_task_before_start_does_not_stop(self) -> None:
        """A call made before the lead became an MQL does not count."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history(LEAD, MQL)],
            Task=[task(LEAD, "2026-12-01T19:59:59.000+0000")],
        )
        assert timeline(make_rule(), data).touch is None

    def test_list_email_is_filtered_out(self) -> None:
        """A mass email does not pass the rule's Task filter."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history(LEAD, MQL)],
            Task=[task(LEAD, "2026-12-01T20:05:00.000+0000", subtype="ListEmail")],
        )
        assert timeline(make_rule(), data).touch is None

    def test_task_on_another_lead_does_not_stop(self) -> None:
        """Only activities pointing at this record count."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history(LEAD, MQL)],
            Task=[task("00Q000000000002", "2026-12-01T20:05:00.000+0000")],
        )
        assert timeline(make_rule(), data).touch is None

    def test_activity_after_now_is_not_evidence(self) -> None:
        """A Task dated after ``now`` has not happened yet at ``now``."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history(LEAD, MQL)],
            Task=[task(LEAD, "2026-12-01T20:30:00.000+0000")],
        )
        assert timeline(make_rule(), data, now=utc(2026, 12, 1, 20, 29, 59)).touch is None
        assert timeline(make_rule(), data, now=utc(2026, 12, 1, 20, 30)).touch is not None

    def test_status_change(self) -> None:
        """Moving the lead on from MQL is a touch when the rule says so."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[
                history(LEAD, MQL),
                history(LEAD, "2026-12-01T20:10:00.000+0000", new="Working", old="MQL"),
            ],
        )
        touch = timeline(clock({"entered_status": "MQL"}, status_change=True), data).touch
        assert touch is not None
        assert touch.at == utc(2026, 12, 1, 20, 10)
        assert "Status changed to Working" in touch.what

    def test_entering_the_status_is_not_itself_a_touch(self) -> None:
        """The status change that starts the clock does not also stop it."""
        data = snapshot(Lead=[lead()], LeadHistory=[history(LEAD, MQL)])
        rule = clock({"entered_status": "MQL"}, status_change=True)
        assert timeline(rule, data).touch is None

    def test_owner_change(self) -> None:
        """Taking ownership is a touch when the rule says so."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[
                history(LEAD, MQL),
                history(LEAD, "2026-12-01T20:40:00.000+0000", field="Owner", new=OTHER_REP),
            ],
        )
        touch = timeline(clock({"entered_status": "MQL"}, owner_change=True), data).touch
        assert touch is not None
        assert touch.at == utc(2026, 12, 1, 20, 40)
        assert "owner changed" in touch.what

    def test_field_set_with_a_datetime(self) -> None:
        """A first-contact datetime field after the start is a touch at that time."""
        rule = clock({"entered_status": "MQL"}, fields_set=["First_Contact__c"])
        data = snapshot(
            Lead=[lead(First_Contact__c="2026-12-01T20:15:00.000+0000")],
            LeadHistory=[history(LEAD, MQL)],
        )
        touch = timeline(rule, data).touch
        assert touch is not None
        assert touch.at == utc(2026, 12, 1, 20, 15)
        assert "First_Contact__c set" in touch.what

    def test_field_set_with_a_checkbox(self) -> None:
        """A ticked checkbox is a touch; an unticked or empty one is not."""
        rule = clock({"entered_status": "MQL"}, fields_set="Contacted__c")
        history_rows = [history(LEAD, MQL)]
        ticked = snapshot(Lead=[lead(Contacted__c=True)], LeadHistory=history_rows)
        unticked = snapshot(Lead=[lead(Contacted__c=False)], LeadHistory=history_rows)
        empty = snapshot(Lead=[lead(Contacted__c=None)], LeadHistory=history_rows)
        touch = timeline(rule, ticked).touch
        assert touch is not None
        assert touch.what == "Contacted__c is set"
        assert timeline(rule, unticked).touch is None
        assert timeline(rule, empty).touch is None

    def test_signals_not_named_do_not_stop(self) -> None:
        """A rule that counts only Tasks ignores a status change and a meeting."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[
                history(LEAD, MQL),
                history(LEAD, "2026-12-01T20:10:00.000+0000", new="Working", old="MQL"),
            ],
            Event=[event(LEAD, "2026-12-01T20:20:00.000+0000")],
        )
        assert timeline(clock({"entered_status": "MQL"}, tasks=True), data).touch is None


class TestRestart:
    def test_owner_change_after_start_restarts(self) -> None:
        """A reassigned lead's clock runs from the reassignment (Tuesday 15:30 New York)."""
        rule = make_rule(
            clock={
                "starts_at": {"entered_status": "MQL"},
                "touched_by": {"tasks": True},
                "restarts_on_owner_change": True,
            }
        )
        data = snapshot(
            Lead=[lead(OwnerId=OTHER_REP)],
            LeadHistory=[
                history(LEAD, MQL),
                history(LEAD, "2026-12-01T20:30:00.000+0000", field="Owner", new=OTHER_REP),
            ],
        )
        start = timeline(rule, data).start
        assert start is not None
        assert start.at == utc(2026, 12, 1, 20, 30)
        assert "restarted: owner changed" in start.what

    def test_owner_change_before_start_does_not_restart(self) -> None:
        """An assignment before the lead became an MQL leaves the start alone."""
        rule = make_rule(
            clock={"starts_at": {"entered_status": "MQL"}, "restarts_on_owner_change": True}
        )
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[
                history(LEAD, "2026-12-01T19:00:00.000+0000", field="Owner", new=OTHER_REP),
                history(LEAD, MQL),
            ],
        )
        start = timeline(rule, data).start
        assert start is not None
        assert start.at == utc(2026, 12, 1, 20, 0)
        assert "restarted" not in start.what

    def test_without_the_flag_an_owner_change_does_not_restart(self) -> None:
        """Restarting is opt-in."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[
                history(LEAD, MQL),
                history(LEAD, "2026-12-01T20:30:00.000+0000", field="Owner", new=OTHER_REP),
            ],
        )
        start = timeline(make_rule(), data).start
        assert start is not None
        assert start.at == utc(2026, 12, 1, 20, 0)
