"""The decide step, holding back: quiet hours (``not_before``) and the hourly budget (folded
notifications and their summary).

Quiet-hours rules use a 1-hour calendar-time SLA on us-sales (New York, weekdays 09:00-17:00),
so a breach can come due at night or at a weekend, when ``quiet_hours: calendar`` holds it.
Owners with a ``TimeZoneSidKey`` of Europe/Berlin read a quiet window on Berlin's clock (CET,
UTC+1, in winter; CEST, UTC+2, in summer).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from decide_helpers import LEAD, episode, keys, leads, past, run, view_of
from helpers import REP, history, lead, make_rule, only, snapshot, utc

from alerter.delivery.model import Kind
from alerter.episodes import LedgerView, NotificationKey, Silence, Status
from alerter.memory import apply
from alerter.records import Snapshot

ONLY_OWNER = [{"to": "owner"}]
NIGHT_RULE = make_rule(sla="1h", warning=None, escalation=ONLY_OWNER)
BERLIN = {"TimeZoneSidKey": "Europe/Berlin"}


def mql(at: str, **fields: Any) -> Snapshot:
    """One MQL lead whose clock started at ``at``."""
    return snapshot(Lead=[lead(LEAD, **fields)], LeadHistory=[history(LEAD, at)])


LONG_AGO = mql("2026-01-01T00:00:00.000+0000")
LONG_AGO_BERLIN = mql("2026-01-01T00:00:00.000+0000", Owner=BERLIN)


class TestQuietHoursCalendar:
    @pytest.mark.parametrize(
        ("clock_start", "now", "until", "text"),
        [
            # Wednesday 01:00 EST, due 02:00 EST: held to the same morning's opening.
            (
                "2026-12-02T06:00:00.000+0000",
                utc(2026, 12, 2, 7),
                utc(2026, 12, 2, 14),
                "Wed 02 Dec 09:00 EST",
            ),
            # Saturday 02:00 EST: held across the weekend to Monday 09:00.
            (
                "2026-12-05T06:00:00.000+0000",
                utc(2026, 12, 5, 7),
                utc(2026, 12, 7, 14),
                "Mon 07 Dec 09:00 EST",
            ),
            # Saturday 7 March 02:00 EST: the clocks go forward on Sunday; Monday 09:00 is EDT.
            (
                "2026-03-07T06:00:00.000+0000",
                utc(2026, 3, 7, 7),
                utc(2026, 3, 9, 13),
                "Mon 09 Mar 09:00 EDT",
            ),
            # Thursday 24 December 02:00 EST: a holiday, then Friday (Christmas, a US holiday).
            (
                "2026-12-24T06:00:00.000+0000",
                utc(2026, 12, 24, 7),
                utc(2026, 12, 28, 14),
                "Mon 28 Dec 09:00 EST",
            ),
        ],
    )
    def test_held_to_the_opening(
        self, clock_start: str, now: datetime, until: datetime, text: str
    ) -> None:
        """A breach at 02:00 waits for the calendar's next opening, and says until when."""
        (decided,) = run(NIGHT_RULE, mql(clock_start), now).notify
        assert (decided.status, decided.not_before) == (Status.QUEUED, until)
        assert (
            decided.reason == f"breach: tier 1, at the deadline; held for quiet hours until {text}"
        )

    def test_open_is_sent_now(self) -> None:
        """During opening hours nothing is held."""
        (decided,) = run(
            NIGHT_RULE, mql("2026-12-02T14:00:00.000+0000"), utc(2026, 12, 2, 15)
        ).notify
        assert decided.not_before == utc(2026, 12, 2, 15)

    def test_at_the_closing_instant(self) -> None:
        """17:00:00 is closed (opening hours are half-open): held to the next morning."""
        (decided,) = run(
            NIGHT_RULE, mql("2026-12-02T21:00:00.000+0000"), utc(2026, 12, 2, 22)
        ).notify
        assert decided.not_before == utc(2026, 12, 3, 14)

    def test_none_sends_any_time(self) -> None:
        """``quiet_hours: none`` sends at 02:00."""
        rule = make_rule(sla="1h", warning=None, escalation=ONLY_OWNER, quiet_hours="none")
        (decided,) = run(rule, mql("2026-12-02T06:00:00.000+0000"), utc(2026, 12, 2, 7)).notify
        assert (decided.not_before, decided.reason) == (
            utc(2026, 12, 2, 7),
            "breach: tier 1, at the deadline",
        )

    def test_managers_and_channels_are_held_alike(self) -> None:
        """Every message of the episode waits: the owner's, the manager's and the channel's."""
        rule = make_rule(
            sla="1h",
            warning=None,
            escalation=[
                {"to": "owner"},
                {"after": "2h", "to": ["manager", "#sales-leads"], "via": ["slack", "email"]},
            ],
        )
        decision = run(rule, mql("2026-12-02T06:00:00.000+0000"), utc(2026, 12, 2, 9))
        assert len(decision.notify) == 4  # owner; manager by Slack and email; the channel
        assert {d.not_before for d in decision.notify} == {utc(2026, 12, 2, 14)}


class TestHeldOvernight:
    """A lead that became an MQL at 16:30 EST on Tuesday: warned at 17:15 (held, the calendar
    closed at 17:00) and due at 17:30, both held to Wednesday 09:00."""

    RULE = make_rule(sla="1h", escalation=ONLY_OWNER)  # warning 15 minutes before
    EVENING = mql("2026-12-01T21:30:00.000+0000")

    def test_a_held_warning_is_cancelled_by_the_breach(self) -> None:
        """At the deadline the breach replaces the warning still waiting for the morning:
        nobody reads "due in 15 min" about an overdue lead."""
        warned = only(self.RULE, self.EVENING, utc(2026, 12, 1, 22, 15))
        held = past(
            7,
            Kind.WARNING,
            0,
            "owner",
            "slack",
            utc(2026, 12, 1, 22, 15),
            Status.QUEUED,
            not_before=utc(2026, 12, 2, 14),
        )
        decision = run(
            self.RULE, self.EVENING, utc(2026, 12, 1, 22, 30), view_of(episode(warned, held))
        )
        assert keys(decision) == [("breach", 1, "owner", "slack", 0)]
        assert decision.cancel == (7,)

    def test_a_sent_warning_is_left_alone(self) -> None:
        """A warning already sent is history, not cancelled."""
        warned = only(self.RULE, self.EVENING, utc(2026, 12, 1, 22, 15))
        sent = past(7, Kind.WARNING, 0, "owner", "slack", utc(2026, 12, 1, 22, 15))
        decision = run(
            self.RULE, self.EVENING, utc(2026, 12, 1, 22, 30), view_of(episode(warned, sent))
        )
        assert decision.cancel == ()

    def test_a_silence_ending_at_night_releases_at_the_opening(self) -> None:
        """A silence that ends at 02:00 releases its breach at 09:00, when the calendar opens,
        not at 02:00."""
        breached = only(self.RULE, self.EVENING, utc(2026, 12, 1, 22, 30))
        silenced = past(
            8, Kind.BREACH, 1, "owner", "slack", utc(2026, 12, 1, 22, 30), Status.SILENCED
        )
        view = view_of(episode(breached, silenced))
        night = run(self.RULE, self.EVENING, utc(2026, 12, 2, 7), view)
        assert night.release == ()
        before = run(self.RULE, self.EVENING, utc(2026, 12, 2, 13, 59, 59), view)
        assert before.release == ()
        opening = run(self.RULE, self.EVENING, utc(2026, 12, 2, 14), view)
        assert opening.release == (8,)


class TestQuietWindow:
    WINDOW = make_rule(
        sla="1h", warning=None, escalation=ONLY_OWNER, quiet_hours={"from": "20:00", "to": "08:00"}
    )

    @pytest.mark.parametrize(
        ("now", "until"),
        [
            (utc(2026, 12, 1, 18, 59, 59), None),  # 19:59:59 CET
            (utc(2026, 12, 1, 19), utc(2026, 12, 2, 7)),  # 20:00 CET, to 08:00 CET
            (utc(2026, 12, 1, 23, 30), utc(2026, 12, 2, 7)),  # 00:30 CET, past midnight
            (utc(2026, 12, 2, 6, 59, 59), utc(2026, 12, 2, 7)),  # 07:59:59 CET
            (utc(2026, 12, 2, 7), None),  # 08:00 CET
            (utc(2026, 10, 24, 21), utc(2026, 10, 25, 7)),  # 23:00 CEST to 08:00 CET (fall back)
            (utc(2026, 3, 28, 21), utc(2026, 3, 29, 6)),  # 22:00 CET to 08:00 CEST (spring on)
        ],
    )
    def test_owner_zone(self, now: datetime, until: datetime | None) -> None:
        """A 20:00-08:00 window on the owner's clock, across midnight and daylight saving."""
        (decided,) = run(self.WINDOW, LONG_AGO_BERLIN, now).notify
        assert decided.not_before == (until or now)

    def test_reason_on_the_owner_clock(self) -> None:
        """The hold is said on the clock the window is read on."""
        (decided,) = run(self.WINDOW, LONG_AGO_BERLIN, utc(2026, 12, 1, 19)).notify
        assert decided.reason.endswith("held for quiet hours until Wed 02 Dec 08:00 CET")

    def test_calendar_zone_without_owner_zone(self) -> None:
        """Without the owner's zone the window is read on the calendar's (20:00 EST = 01:00Z)."""
        (decided,) = run(self.WINDOW, LONG_AGO, utc(2026, 12, 2, 1)).notify
        assert decided.not_before == utc(2026, 12, 2, 13)

    def test_unknown_owner_zone_falls_back(self) -> None:
        """An owner zone that is not an IANA name is ignored, not fatal."""
        data = mql("2026-01-01T00:00:00.000+0000", Owner={"TimeZoneSidKey": "Mars/Base"})
        (decided,) = run(self.WINDOW, data, utc(2026, 12, 2, 1)).notify
        assert decided.not_before == utc(2026, 12, 2, 13)

    @pytest.mark.parametrize(
        ("now", "until"),
        [
            (utc(2026, 12, 1, 16, 59, 59), None),  # 11:59:59 EST
            (utc(2026, 12, 1, 17), utc(2026, 12, 1, 18)),  # 12:00 EST, to 13:00 EST
            (utc(2026, 12, 1, 18), None),  # 13:00 EST
        ],
    )
    def test_window_within_a_day(self, now: datetime, until: datetime | None) -> None:
        """A window that does not cross midnight (a lunch break) holds only inside it."""
        rule = make_rule(
            sla="1h",
            warning=None,
            escalation=ONLY_OWNER,
            quiet_hours={"from": "12:00", "to": "13:00"},
        )
        (decided,) = run(rule, LONG_AGO, now).notify
        assert decided.not_before == (until or now)


class TestBudget:
    RULE = make_rule(quiet_hours="none", escalation=ONLY_OWNER)
    FIFTEEN = leads(15, "2026-12-01T20:00:00.000+0000")
    DEADLINE = utc(2026, 12, 1, 21)

    def test_fifteen_breaches_budget_ten(self) -> None:
        """Fifteen breaches for one rep with a budget of ten: ten queued, five folded, one
        summary of the five."""
        decision = run(self.RULE, self.FIFTEEN, self.DEADLINE, budget=10)
        statuses = [d.status for d in decision.notify]
        assert statuses == [Status.QUEUED] * 10 + [Status.FOLDED] * 5 + [Status.QUEUED]
        summary = decision.notify[-1]
        folded = [d.notification for d in decision.notify if d.status is Status.FOLDED]
        assert summary.episode is None
        assert summary.key == NotificationKey(Kind.SUMMARY, 0, "owner", "slack", 0)
        assert summary.items == tuple(folded)
        assert (summary.notification.kind, summary.notification.template) == (
            Kind.SUMMARY,
            "summary",
        )
        assert summary.notification.evaluation == folded[0].evaluation
        assert summary.budget_key == f"user:{REP}"
        assert (
            summary.reason
            == f"summary of 5 notifications over the budget of 10 an hour for user:{REP}"
        )

    def test_deterministic_order(self) -> None:
        """Within the budget go the earliest due, then by record: the last records fold."""
        decision = run(self.RULE, self.FIFTEEN, self.DEADLINE, budget=10)
        folded = [
            d.notification.evaluation.record_id
            for d in decision.notify
            if d.status is Status.FOLDED
        ]
        assert folded == [f"00Q0000000000{n}" for n in range(11, 16)]

    def test_later_due_folds_first(self) -> None:
        """A record due later folds before records due earlier, whatever its Id."""
        data = snapshot(
            Lead=[lead(f"00Q0000000000{n:02d}") for n in range(1, 12)],
            LeadHistory=[history("00Q000000000001", "2026-12-01T20:30:00.000+0000")]
            + [
                history(f"00Q0000000000{n:02d}", "2026-12-01T20:00:00.000+0000")
                for n in range(2, 12)
            ],
        )
        decision = run(self.RULE, data, utc(2026, 12, 1, 21, 30), budget=10)
        (folded,) = [d for d in decision.notify if d.status is Status.FOLDED]
        assert folded.notification.evaluation.record_id == "00Q000000000001"

    def test_recent_counts(self) -> None:
        """Eight sent in the past hour leave room for two."""
        view = LedgerView(recent={f"user:{REP}": 8})
        decision = run(self.RULE, self.FIFTEEN, self.DEADLINE, view, budget=10)
        counts = [d.status for d in decision.notify].count
        assert (counts(Status.QUEUED), counts(Status.FOLDED)) == (3, 13)

    def test_keys_per_recipient_and_summary_per_channel(self) -> None:
        """Owner, manager and channel have their own budgets; each (key, channel) over budget
        gets one summary."""
        rule = make_rule(quiet_hours="none")
        decision = run(rule, self.FIFTEEN, utc(2026, 12, 2, 15), budget=10)
        summaries = sorted(
            (d.budget_key, d.key.channel, len(d.items))
            for d in decision.notify
            if d.episode is None
        )
        assert summaries == [
            ("#sales-leads", "slack", 5),
            (f"manager-of:{REP}", "email", 10),
            (f"manager-of:{REP}", "slack", 10),
            (f"user:{REP}", "slack", 5),
        ]

    def test_silenced_do_not_count(self) -> None:
        """Silenced notifications are not sent, so they use no budget."""
        silence = Silence(
            1, None, "00Q000000000001", None, utc(2026, 12, 1), utc(2026, 12, 9), "", ""
        )
        decision = run(
            self.RULE, self.FIFTEEN, self.DEADLINE, view_of(silences=[silence]), budget=10
        )
        counts = [d.status for d in decision.notify].count
        assert (counts(Status.SILENCED), counts(Status.QUEUED), counts(Status.FOLDED)) == (1, 11, 4)

    def test_summary_waits_for_quiet_hours(self) -> None:
        """A summary of held notifications is held as long as the latest of them."""
        rule = make_rule(sla="1h", warning=None, escalation=ONLY_OWNER)
        data = leads(3, "2026-12-02T06:00:00.000+0000")
        decision = run(rule, data, utc(2026, 12, 2, 7), budget=1)
        assert {d.not_before for d in decision.notify if d.status is Status.QUEUED} == {
            utc(2026, 12, 2, 14)
        }

    def test_ledger_counts_what_goes_out(self) -> None:
        """The in-memory ledger counts queued notifications and summaries, not folded ones."""
        decision = run(self.RULE, self.FIFTEEN, self.DEADLINE, budget=10)
        assert apply(LedgerView(), decision, self.DEADLINE).recent == {f"user:{REP}": 11}

    def test_budget_must_be_positive(self) -> None:
        """A budget below one message an hour is refused."""
        with pytest.raises(ValueError, match="at least 1"):
            run(self.RULE, self.FIFTEEN, self.DEADLINE, budget=0)

    def test_order_of_notify_is_stable(self) -> None:
        """Notifications come out by due time, then rule and record, summaries last."""
        decision = run(self.RULE, self.FIFTEEN, self.DEADLINE + timedelta(minutes=1), budget=100)
        records = [d.notification.evaluation.record_id for d in decision.notify]
        assert records == sorted(records)
        assert keys(decision)[0] == ("breach", 1, "owner", "slack", 0)
