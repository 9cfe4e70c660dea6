"""The pure core: where each record stands against each rule at an explicit ``now``.

The rule under test is the 1-business-hour MQL rule on us-sales (New York, weekdays 09:00-17:00,
US holidays), with a 15-minute warning and tiers at the deadline and 2 business hours past it.
Record times are Salesforce's UTC; expected instants are written by hand in UTC with the New York
reading alongside. New York is UTC-5 (EST) in winter and UTC-4 (EDT) in summer.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import (
    OTHER_REP,
    QUEUE,
    event,
    history,
    lead,
    make_rule,
    mql_at,
    only,
    snapshot,
    task,
    utc,
)

from alerter.evaluate import State, evaluate
from alerter.records import Snapshot

LEAD = "00Q000000000001"
# Tuesday 2026-12-01 15:00 EST: due 16:00 EST (21:00Z), warning from 15:45 EST (20:45Z), tier 2
# at 2 business hours past: one hour Tuesday 16:00-17:00, one hour Wednesday 09:00-10:00 EST.
TUESDAY_MQL = mql_at("2026-12-01T20:00:00.000+0000")
RULE = make_rule()


class TestDeadline:
    def test_one_second_before_the_warning(self) -> None:
        """Until 15:44:59 the lead is simply not due yet."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 20, 44, 59))
        assert result.state is State.NOT_DUE
        assert result.clock_start == utc(2026, 12, 1, 20, 0)
        assert result.due == utc(2026, 12, 1, 21, 0)
        assert result.overdue is None
        assert result.tier is None

    def test_at_the_warning(self) -> None:
        """At exactly 15 minutes before the deadline the warning starts."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 20, 45))
        assert result.state is State.WARNING
        assert result.tier is None

    def test_one_second_before_the_deadline(self) -> None:
        """At 15:59:59 the lead is still only in warning."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 20, 59, 59))
        assert result.state is State.WARNING
        assert result.overdue is None
        assert "1 s left" in result.explanation

    def test_exactly_at_the_deadline(self) -> None:
        """At 16:00:00 the lead is breached at tier 1 and zero seconds overdue."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 21, 0))
        assert result.state is State.BREACHED
        assert result.tier == 1
        assert result.overdue == timedelta(0)

    def test_59_minutes_59_seconds_overdue(self) -> None:
        """At 16:59:59 the overdue time is just under an hour."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 21, 59, 59))
        assert result.overdue == timedelta(minutes=59, seconds=59)
        assert result.tier == 1

    def test_one_hour_overdue(self) -> None:
        """At 17:00:00 the overdue time is exactly one business hour."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 22, 0))
        assert result.overdue == timedelta(hours=1)
        assert "1 h of business time overdue" in result.explanation

    def test_overdue_does_not_grow_overnight(self) -> None:
        """Overdue time is business time: 23:00 is still one hour overdue."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 2, 4, 0))
        assert result.overdue == timedelta(hours=1)
        assert result.tier == 1

    def test_one_second_before_tier_2(self) -> None:
        """Wednesday 09:59:59 is still tier 1."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 2, 14, 59, 59))
        assert result.tier == 1

    def test_tier_2_exactly_at_its_time(self) -> None:
        """Wednesday 10:00:00 EST is two business hours past the deadline: tier 2."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 2, 15, 0))
        assert result.state is State.BREACHED
        assert result.tier == 2
        assert result.overdue == timedelta(hours=2)

    def test_first_tier_after_the_deadline(self) -> None:
        """When the first tier comes after the deadline, a fresh breach has no tier yet."""
        rule = make_rule(escalation=[{"after": "30 business minutes", "to": "owner"}])
        at_deadline = only(rule, TUESDAY_MQL, utc(2026, 12, 1, 21, 0))
        at_tier = only(rule, TUESDAY_MQL, utc(2026, 12, 1, 21, 30))
        assert at_deadline.state is State.BREACHED
        assert at_deadline.tier is None
        assert at_tier.tier == 1

    def test_business_minutes_warning(self) -> None:
        """A warning in business minutes counts back over the weekend (Friday 16:50 EST)."""
        rule = make_rule(
            warning={"before": "15 business minutes", "to": "owner", "template": "due-soon"}
        )
        # Friday 2026-12-04 16:05 EST + 1 business hour = Monday 2026-12-07 09:05 EST (14:05Z).
        data = mql_at("2026-12-04T21:05:00.000+0000")
        assert only(rule, data, utc(2026, 12, 4, 21, 49, 59)).state is State.NOT_DUE
        assert only(rule, data, utc(2026, 12, 4, 21, 50)).state is State.WARNING
        assert only(rule, data, utc(2026, 12, 7, 14, 4, 59)).state is State.WARNING

    def test_without_a_warning(self) -> None:
        """A rule without a warning goes straight from not due to breached."""
        rule = make_rule(warning=None)
        assert only(rule, TUESDAY_MQL, utc(2026, 12, 1, 20, 59, 59)).state is State.NOT_DUE
        assert only(rule, TUESDAY_MQL, utc(2026, 12, 1, 21, 0)).state is State.BREACHED


class TestBusinessCalendar:
    def test_friday_afternoon_is_due_monday_morning(self) -> None:
        """Friday 2026-12-04 16:30 EST is due Monday 2026-12-07 09:30 EST."""
        result = only(RULE, mql_at("2026-12-04T21:30:00.000+0000"), utc(2026, 12, 4, 22, 0))
        assert result.due == utc(2026, 12, 7, 14, 30)

    def test_sunday_is_not_due(self) -> None:
        """On Sunday the clock has stopped with 30 minutes left."""
        result = only(RULE, mql_at("2026-12-04T21:30:00.000+0000"), utc(2026, 12, 6, 18, 0))
        assert result.state is State.NOT_DUE
        assert "30 min left" in result.explanation

    def test_thanksgiving(self) -> None:
        """Wednesday 2026-11-25 16:30 EST skips Thanksgiving: due Friday 11-27 09:30 EST."""
        data = mql_at("2026-11-25T21:30:00.000+0000")
        on_thanksgiving = only(RULE, data, utc(2026, 11, 26, 18, 0))
        assert on_thanksgiving.due == utc(2026, 11, 27, 14, 30)
        assert on_thanksgiving.state is State.NOT_DUE

    def test_company_holiday(self) -> None:
        """Wednesday 2026-12-23 16:30 EST skips 24 and 25 December: due Monday 12-28 09:30."""
        result = only(RULE, mql_at("2026-12-23T21:30:00.000+0000"), utc(2026, 12, 24, 15, 0))
        assert result.due == utc(2026, 12, 28, 14, 30)

    def test_spring_forward(self) -> None:
        """Friday 2026-03-06 16:30 EST is due Monday 2026-03-09 09:30 EDT, which is 13:30Z."""
        result = only(RULE, mql_at("2026-03-06T21:30:00.000+0000"), utc(2026, 3, 6, 22, 0))
        assert result.due == utc(2026, 3, 9, 13, 30)
        assert "due Mon 09 Mar 09:30 EDT" in result.explanation

    def test_fall_back(self) -> None:
        """Friday 2026-10-30 16:30 EDT is due Monday 2026-11-02 09:30 EST, which is 14:30Z."""
        result = only(RULE, mql_at("2026-10-30T20:30:00.000+0000"), utc(2026, 10, 30, 21, 0))
        assert result.due == utc(2026, 11, 2, 14, 30)
        assert "due Mon 02 Nov 09:30 EST" in result.explanation

    def test_fall_back_boundary(self) -> None:
        """The breach starts at 14:30Z on Monday, not at the summer-time reading 13:30Z."""
        data = mql_at("2026-10-30T20:30:00.000+0000")
        assert only(RULE, data, utc(2026, 11, 2, 14, 29, 59)).state is State.WARNING
        assert only(RULE, data, utc(2026, 11, 2, 14, 30)).state is State.BREACHED


class TestCalendarTime:
    RULE = make_rule(
        id="no-activity-30-days",
        where=[{"field": "IsConverted", "equals": False}],
        clock={
            "starts_at": {"last_touch": True, "otherwise": "CreatedDate"},
            "touched_by": {"tasks": True, "events": True},
        },
        sla="30d",
        warning=None,
        escalation=[{"to": "owner"}, {"after": "7d", "to": "manager"}],
    )
    # Last call Tuesday 2026-10-20 12:00 EDT; 30 x 24 h later is Thursday 2026-11-19 11:00 EST.
    DATA = snapshot(
        Lead=[lead(Status="Working")],
        Task=[
            task(LEAD, "2026-10-01T16:00:00.000+0000"),
            task(LEAD, "2026-10-20T16:00:00.000+0000", subject="Call: pricing"),
        ],
    )

    def test_due_after_thirty_days_of_elapsed_time(self) -> None:
        """Across the fall-back change the deadline keeps the instant, not the wall-clock hour."""
        result = only(self.RULE, self.DATA, utc(2026, 11, 1, 12, 0))
        assert result.clock_start == utc(2026, 10, 20, 16, 0)
        assert result.due == utc(2026, 11, 19, 16, 0)
        assert "due Thu 19 Nov 11:00 EST" in result.explanation

    def test_boundary(self) -> None:
        """One second before the deadline it is not due; at the deadline it is breached."""
        assert only(self.RULE, self.DATA, utc(2026, 11, 19, 15, 59, 59)).state is State.NOT_DUE
        at = only(self.RULE, self.DATA, utc(2026, 11, 19, 16, 0))
        assert at.state is State.BREACHED
        assert at.tier == 1

    def test_overdue_counts_nights_and_weekends(self) -> None:
        """Calendar-time overdue runs on the wall clock, weekend included."""
        result = only(self.RULE, self.DATA, utc(2026, 11, 22, 16, 0))
        assert result.overdue == timedelta(days=3)
        assert "3 d overdue" in result.explanation
        assert "business" not in result.explanation

    def test_second_tier_after_seven_days(self) -> None:
        """The manager is reached exactly seven days past the deadline."""
        assert only(self.RULE, self.DATA, utc(2026, 11, 26, 15, 59, 59)).tier == 1
        assert only(self.RULE, self.DATA, utc(2026, 11, 26, 16, 0)).tier == 2

    def test_fallback_for_a_lead_never_touched(self) -> None:
        """A lead without activities is timed from its creation."""
        data = snapshot(Lead=[lead(CreatedDate="2026-11-02T14:00:00.000+0000")])
        result = only(self.RULE, data, utc(2026, 11, 20, 12, 0))
        assert result.clock_start == utc(2026, 11, 2, 14, 0)
        assert result.due == utc(2026, 12, 2, 14, 0)
        assert "CreatedDate" in result.explanation


class TestClockStates:
    def test_stopped_by_a_call(self) -> None:
        """A call after the lead became an MQL stops the clock for good."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history(LEAD, "2026-12-01T20:00:00.000+0000")],
            Task=[task(LEAD, "2026-12-01T20:30:00.000+0000")],
        )
        result = only(RULE, data, utc(2026, 12, 3, 15, 0))
        assert result.state is State.STOPPED
        assert result.overdue is None
        assert result.tier is None
        assert result.next_change is None

    def test_list_email_does_not_stop(self) -> None:
        """A mass email leaves the lead breached."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history(LEAD, "2026-12-01T20:00:00.000+0000")],
            Task=[task(LEAD, "2026-12-01T20:05:00.000+0000", subtype="ListEmail")],
        )
        assert only(RULE, data, utc(2026, 12, 1, 21, 0)).state is State.BREACHED

    def test_call_before_the_mql_does_not_stop(self) -> None:
        """A call made while the lead was still Open does not satisfy the MQL's SLA."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history(LEAD, "2026-12-01T20:00:00.000+0000")],
            Task=[task(LEAD, "2026-12-01T19:00:00.000+0000")],
        )
        assert only(RULE, data, utc(2026, 12, 1, 21, 0)).state is State.BREACHED

    def test_no_clock(self) -> None:
        """A rule timed by a field the record leaves empty has no clock."""
        rule = make_rule(
            clock={"starts_at": {"field": "MQL_Date__c"}, "touched_by": {"tasks": True}}
        )
        result = only(rule, snapshot(Lead=[lead()]), utc(2026, 12, 1, 21, 0))
        assert result.state is State.NO_CLOCK
        assert result.clock_start is None
        assert result.due is None
        assert result.next_change is None
        assert result.explanation.startswith("no clock start")

    def test_no_clock_names_what_is_missing(self) -> None:
        """The explanation says which field was empty."""
        rule = make_rule(
            clock={"starts_at": {"field": "MQL_Date__c"}, "touched_by": {"tasks": True}}
        )
        result = only(rule, snapshot(Lead=[lead()]), utc(2026, 12, 1, 21, 0))
        assert "MQL_Date__c" in result.explanation

    def test_no_clock_when_the_fallback_is_empty_too(self) -> None:
        """No MQL history and no CreatedDate: nothing to time the lead from."""
        result = only(RULE, snapshot(Lead=[lead(CreatedDate=None)]), utc(2026, 12, 1, 21, 0))
        assert result.state is State.NO_CLOCK
        assert "CreatedDate" in result.explanation

    def test_restart_on_owner_change_moves_the_deadline(self) -> None:
        """Reassigned at 15:30 EST, the new owner is due 16:30 EST, so at 16:00 it is not due."""
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
                history(LEAD, "2026-12-01T20:00:00.000+0000"),
                history(LEAD, "2026-12-01T20:30:00.000+0000", field="Owner", new=OTHER_REP),
            ],
        )
        result = only(rule, data, utc(2026, 12, 1, 21, 0))
        assert result.state is State.NOT_DUE
        assert result.due == utc(2026, 12, 1, 21, 30)
        assert result.owner_id == OTHER_REP


class TestEmbeddedChildren:
    def test_embedded_equals_separate_rows(self) -> None:
        """Tasks, Events and Histories embedded in the lead give the same result as rows."""
        mql = history(LEAD, "2026-12-01T20:00:00.000+0000")
        call = task(LEAD, "2026-12-01T20:30:00.000+0000")
        meeting = event(LEAD, "2026-12-01T20:40:00.000+0000")
        rows = snapshot(Lead=[lead()], LeadHistory=[mql], Task=[call], Event=[meeting])
        embedded = snapshot(
            Lead=[
                lead(
                    Histories={"totalSize": 1, "done": True, "records": [mql]},
                    Tasks={"totalSize": 1, "done": True, "records": [call]},
                    Events={"totalSize": 1, "done": True, "records": [meeting]},
                )
            ]
        )
        now = utc(2026, 12, 2, 15, 0)
        from_rows = only(RULE, rows, now)
        assert from_rows.state is State.STOPPED
        assert only(RULE, embedded, now) == from_rows

    def test_embedded_empty_relationship_means_no_touch(self) -> None:
        """An embedded empty Tasks list is the full answer, even if stray rows exist."""
        embedded = snapshot(
            Lead=[
                lead(
                    Histories={
                        "totalSize": 1,
                        "done": True,
                        "records": [history(LEAD, "2026-12-01T20:00:00.000+0000")],
                    },
                    Tasks={"totalSize": 0, "done": True, "records": []},
                )
            ],
        )
        assert only(RULE, embedded, utc(2026, 12, 1, 21, 0)).state is State.BREACHED


class TestOtherObjects:
    RULE = make_rule(
        id="opportunity-follow-up",
        object="Opportunity",
        where=[{"field": "StageName", "equals": "Prospecting"}],
        clock={"starts_at": {"owner_assigned": True}, "touched_by": {"tasks": True}},
        warning=None,
        escalation=[{"to": "owner"}],
    )

    @staticmethod
    def opportunity(record_id: str, assigned: str) -> dict[str, object]:
        owner_row = {
            "Id": f"017{record_id}",
            "OpportunityId": record_id,
            "Field": "Owner",
            "OldValue": QUEUE,
            "NewValue": OTHER_REP,
            "CreatedDate": assigned,
        }
        return {
            "Id": record_id,
            "Name": f"Deal {record_id[-1]}",
            "StageName": "Prospecting",
            "OwnerId": OTHER_REP,
            "Histories": {"totalSize": 1, "done": True, "records": [owner_row]},
        }

    def test_opportunity_with_tasks_by_what_id(self) -> None:
        """Tasks point at an Opportunity through WhatId; one is touched, one is late."""
        data = snapshot(
            Opportunity=[
                self.opportunity("006000000000001", "2026-12-01T20:00:00.000+0000"),
                self.opportunity("006000000000002", "2026-12-01T20:00:00.000+0000"),
                {"Id": "006000000000003", "Name": "Won", "StageName": "Closed Won"},
            ],
            Task=[
                {
                    "Id": "00T000000000001",
                    "WhatId": "006000000000001",
                    "Subject": "Discovery call",
                    "CreatedDate": "2026-12-01T20:10:00.000+0000",
                }
            ],
        )
        results = {r.record_id: r for r in evaluate([self.RULE], data, utc(2026, 12, 1, 21, 0))}
        assert set(results) == {"006000000000001", "006000000000002"}
        touched, late = results["006000000000001"], results["006000000000002"]
        assert touched.state is State.STOPPED
        assert "Discovery call" in touched.explanation
        assert late.state is State.BREACHED
        assert late.object == "Opportunity"
        assert late.name == "Deal 2"
        assert late.due == utc(2026, 12, 1, 21, 0)

    def test_opportunity_field_history_rows(self) -> None:
        """Owner changes as OpportunityFieldHistory rows (Opportunity's field history) count."""
        data = snapshot(
            Opportunity=[
                {"Id": "006000000000002", "StageName": "Prospecting", "OwnerId": OTHER_REP}
            ],
            OpportunityFieldHistory=[
                {
                    "Id": "017000000000001",
                    "OpportunityId": "006000000000002",
                    "Field": "Owner",
                    "NewValue": OTHER_REP,
                    "CreatedDate": "2026-12-01T20:00:00.000+0000",
                }
            ],
        )
        result = only(self.RULE, data, utc(2026, 12, 1, 21, 0))
        assert result.clock_start == utc(2026, 12, 1, 20, 0)


class TestScope:
    def test_records_out_of_scope_are_not_returned(self) -> None:
        """Only leads matching every ``where`` condition are evaluated."""
        data = snapshot(
            Lead=[
                lead("00Q000000000001"),
                lead("00Q000000000002", Status="Working"),
                lead("00Q000000000003", Status="mql"),
            ],
        )
        ids = [r.record_id for r in evaluate([RULE], data, utc(2026, 12, 1, 21, 0))]
        assert sorted(ids) == ["00Q000000000001", "00Q000000000003"]

    def test_one_result_per_rule_and_record(self) -> None:
        """Two rules over two leads give four evaluations, each naming its rule."""
        other = make_rule(id="mql-two-hours", sla="2 business hours")
        data = snapshot(Lead=[lead("00Q000000000001"), lead("00Q000000000002")])
        results = evaluate([RULE, other], data, utc(2026, 12, 1, 21, 0))
        pairs = sorted((r.rule_id, r.record_id) for r in results)
        assert pairs == [
            ("mql-first-touch", "00Q000000000001"),
            ("mql-first-touch", "00Q000000000002"),
            ("mql-two-hours", "00Q000000000001"),
            ("mql-two-hours", "00Q000000000002"),
        ]

    def test_queue_owned_lead_is_still_evaluated(self) -> None:
        """Scope is the rule's ``where`` alone: this rule does not exclude queues."""
        data = mql_at("2026-12-01T20:00:00.000+0000", OwnerId=QUEUE)
        assert only(RULE, data, utc(2026, 12, 1, 21, 0)).owner_id == QUEUE

    def test_snapshot_without_the_object(self) -> None:
        """A snapshot without any Lead gives no results."""
        assert evaluate([RULE], snapshot(Task=[]), utc(2026, 12, 1, 21, 0)) == []


class TestNextChange:
    def test_before_the_warning_it_is_the_warning(self) -> None:
        """Not due yet: the next change is the warning at 15:45 EST."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 20, 30))
        assert result.next_change == utc(2026, 12, 1, 20, 45)

    def test_at_the_warning_it_is_the_deadline(self) -> None:
        """In warning: the next change is the deadline at 16:00 EST."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 20, 45))
        assert result.next_change == utc(2026, 12, 1, 21, 0)

    def test_at_the_deadline_it_is_the_next_tier(self) -> None:
        """At tier 1: the next change is tier 2 on Wednesday 10:00 EST."""
        result = only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 21, 0))
        assert result.next_change == utc(2026, 12, 2, 15, 0)

    def test_after_the_last_tier_there_is_none(self) -> None:
        """At the last tier nothing changes by itself any more."""
        assert only(RULE, TUESDAY_MQL, utc(2026, 12, 2, 15, 0)).next_change is None


class TestExplanation:
    def test_mentions_start_and_deadline(self) -> None:
        """A running clock says where it started, what it looked for and when it is due."""
        text = only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 21, 0)).explanation
        assert "Status became MQL at Tue 01 Dec 15:00 EST" in text
        assert "no Task, Event after it" in text
        assert "due Tue 01 Dec 16:00 EST" in text

    def test_mentions_the_touch(self) -> None:
        """A stopped clock names the activity that stopped it."""
        data = snapshot(
            Lead=[lead()],
            LeadHistory=[history(LEAD, "2026-12-01T20:00:00.000+0000")],
            Event=[event(LEAD, "2026-12-01T20:30:00.000+0000", subject="Intro meeting")],
        )
        text = only(RULE, data, utc(2026, 12, 1, 21, 0)).explanation
        assert "Status became MQL" in text
        assert "touched: Event 'Intro meeting' at Tue 01 Dec 15:30 EST" in text

    def test_mentions_the_fallback(self) -> None:
        """A lead timed from its creation says so."""
        data = snapshot(Lead=[lead(CreatedDate="2026-12-01T20:00:00.000+0000")])
        text = only(RULE, data, utc(2026, 12, 1, 21, 0)).explanation
        assert "no history of Status becoming MQL" in text
        assert "CreatedDate at Tue 01 Dec 15:00 EST used" in text

    def test_record_name(self) -> None:
        """A lead without Name is called by its first and last name."""
        assert only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 21, 0)).name == "Ada Lovelace"


class TestPurity:
    def test_naive_now_is_refused(self) -> None:
        """A moment without a time zone is ambiguous."""
        with pytest.raises(ValueError, match="timezone-aware"):
            evaluate([RULE], TUESDAY_MQL, datetime(2026, 12, 1, 16, 0))

    def test_now_in_any_zone(self) -> None:
        """The same instant written in New York time gives the same result as in UTC."""
        new_york = datetime(2026, 12, 1, 16, 0, tzinfo=ZoneInfo("America/New_York"))
        assert evaluate([RULE], TUESDAY_MQL, new_york) == evaluate(
            [RULE], TUESDAY_MQL, utc(2026, 12, 1, 21, 0)
        )

    def test_same_answer_twice_and_snapshot_untouched(self) -> None:
        """Evaluating is repeatable and leaves its input as it was."""
        raw = {
            "Lead": [lead(), lead("00Q000000000002", CreatedDate="2026-12-01T19:00:00.000+0000")],
            "LeadHistory": [history(LEAD, "2026-12-01T20:00:00.000+0000")],
            "Task": [task("00Q000000000002", "2026-12-01T19:30:00.000+0000")],
        }
        before = copy.deepcopy(raw)
        data = Snapshot(raw)
        now = utc(2026, 12, 1, 21, 0)
        first = evaluate([RULE], data, now)
        second = evaluate([RULE], data, now)
        assert first == second
        assert len(first) == 2
        assert raw == before
        assert data.records("Lead") == before["Lead"]
