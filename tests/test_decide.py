"""The decide step: episodes, the warning, tiers, repeats, silences and resolved messages.

Evaluations come from the real ``evaluate`` on small snapshots; ledger views are built by hand
or by replaying cycles through the in-memory ledger. The rule is the 1-business-hour MQL rule
on us-sales (New York, weekdays 09:00-17:00): a lead that became an MQL on Tuesday 2026-12-01
at 15:00 EST (20:00Z) is warned from 15:45 (20:45Z), due at 16:00 (21:00Z), and reaches tier 2
two business hours later, Wednesday 10:00 EST (15:00Z). Quiet hours are off unless a test is
about them (``test_decide_hold.py``).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from decide_helpers import LEAD, cycles, episode, keys, past, run, view_of
from helpers import history, lead, make_rule, mql_at, only, snapshot, task, utc

from alerter.decide import LEFT_THE_RULE
from alerter.delivery.model import Kind
from alerter.episodes import Coverage, Silence, Status
from alerter.evaluate import State
from alerter.memory import apply

TUESDAY_MQL = mql_at("2026-12-01T20:00:00.000+0000")
TOUCHED = snapshot(
    Lead=[lead(LEAD)],
    LeadHistory=[history(LEAD, "2026-12-01T20:00:00.000+0000")],
    Task=[task(LEAD, "2026-12-02T15:10:00.000+0000")],
)
GONE = snapshot(Lead=[], LeadHistory=[])
RULE = make_rule(quiet_hours="none")
REPEATING = make_rule(
    quiet_hours="none",
    escalation=[
        {"to": "owner", "repeat_every": "1 business hour"},
        {"after": "2 business hours", "to": "manager", "via": ["slack", "email"]},
    ],
)
RESOLVING = make_rule(quiet_hours="none", resolved=True)
BREACH = ("breach", 1, "owner", "slack", 0)
WARNING = ("warning", 0, "owner", "slack", 0)
DEADLINE = utc(2026, 12, 1, 21, 0)
TIER_2 = utc(2026, 12, 2, 15, 0)
AFTER_TOUCH = utc(2026, 12, 2, 15, 20)  # the Task is at 15:10Z


class TestEpisodes:
    def test_nothing_before_the_warning(self) -> None:
        """A record that is not due yet opens no episode and gets nothing."""
        decision = run(RULE, TUESDAY_MQL, utc(2026, 12, 1, 20, 44, 59))
        assert (decision.opened, decision.notify) == ((), ())

    def test_first_warning_opens_an_episode(self) -> None:
        """The first cycle that sees the record in warning opens its episode at its clock start."""
        decision = run(RULE, TUESDAY_MQL, utc(2026, 12, 1, 20, 45))
        ((key, evaluation),) = decision.opened
        assert (key.rule_id, key.record_id, key.clock_start) == (
            RULE.id,
            LEAD,
            utc(2026, 12, 1, 20),
        )
        assert evaluation.state is State.WARNING

    def test_notifications_point_at_the_new_episode(self) -> None:
        """Notifications of a new episode carry its key, as the ledger needs to file them."""
        decision = run(RULE, TUESDAY_MQL, DEADLINE)
        assert {d.episode for d in decision.notify} == {decision.opened[0][0]}

    def test_touched_closes_with_the_touch(self) -> None:
        """A stopped record closes its episode, saying what touched it."""
        first = only(RULE, TUESDAY_MQL, DEADLINE)
        decision = run(RULE, TOUCHED, AFTER_TOUCH, view_of(episode(first)))
        (closing,) = decision.close
        assert closing.episode_id == 1
        assert closing.reason.startswith("touched: Task 'Call: intro'")

    def test_left_the_rule(self) -> None:
        """A record looked at and absent (out of scope, deleted) closes its episode."""
        first = only(RULE, TUESDAY_MQL, DEADLINE)
        decision = run(RULE, GONE, TIER_2, view_of(episode(first)))
        assert [c.reason for c in decision.close] == [LEFT_THE_RULE]

    def test_not_looked_at_keeps_its_episode(self) -> None:
        """A record the cycle did not look at (a disabled rule) keeps its episode as it is."""
        first = only(RULE, TUESDAY_MQL, DEADLINE)
        decision = run(RULE, GONE, TIER_2, view_of(episode(first)), coverage=Coverage())
        assert decision == type(decision)()

    def test_targeted_recheck_of_other_ids_keeps_it(self) -> None:
        """A targeted re-check of other records leaves this one's episode alone."""
        first = only(RULE, TUESDAY_MQL, DEADLINE)
        coverage = Coverage(records={RULE.id: frozenset({"00Q000000000999"})})
        assert run(RULE, GONE, TIER_2, view_of(episode(first)), coverage=coverage).close == ()

    def test_targeted_recheck_of_its_id_closes_it(self) -> None:
        """A targeted re-check that includes the record and does not find it closes it."""
        first = only(RULE, TUESDAY_MQL, DEADLINE)
        coverage = Coverage(records={RULE.id: frozenset({LEAD})})
        decision = run(RULE, GONE, TIER_2, view_of(episode(first)), coverage=coverage)
        assert [c.episode_id for c in decision.close] == [1]

    def test_clock_restart_closes_and_opens(self) -> None:
        """A re-qualified lead closes the old episode and opens one from the new clock start."""
        first = only(RULE, TUESDAY_MQL, DEADLINE)
        requalified = snapshot(
            Lead=[lead(LEAD)],
            LeadHistory=[
                history(LEAD, "2026-12-01T20:00:00.000+0000"),
                history(LEAD, "2026-12-02T14:00:00.000+0000"),  # Wednesday 09:00 EST
            ],
        )
        decision = run(RULE, requalified, TIER_2, view_of(episode(first)))
        assert [c.reason for c in decision.close] == ["clock restarted at Wed 02 Dec 09:00 EST"]
        ((key, _),) = decision.opened
        assert key.clock_start == utc(2026, 12, 2, 14)
        assert keys(decision) == [BREACH]
        assert decision.notify[0].episode == key

    def test_no_clock_closes(self) -> None:
        """A record whose clock start disappeared closes its episode."""
        rule = make_rule(quiet_hours="none", clock={"starts_at": {"field": "MQL_Date__c"}})
        data = snapshot(Lead=[lead(LEAD, MQL_Date__c="2026-12-01T20:00:00.000+0000")])
        first = only(rule, data, DEADLINE)
        decision = run(rule, snapshot(Lead=[lead(LEAD)]), TIER_2, view_of(episode(first)))
        assert [c.reason for c in decision.close] == ["no clock start: MQL_Date__c is empty"]

    def test_updated_only_when_notified(self) -> None:
        """An open episode's evaluation is refreshed only in cycles that notify it."""
        view, _ = cycles(RULE, TUESDAY_MQL, [DEADLINE])
        quiet = run(RULE, TUESDAY_MQL, DEADLINE + timedelta(minutes=5), view)
        loud = run(RULE, TUESDAY_MQL, TIER_2, view)
        assert quiet.updated == ()
        assert [(i, e.tier) for i, e in loud.updated] == [(1, 2)]


class TestWarning:
    def test_warning_once(self) -> None:
        """The warning goes once, however many cycles see the record in warning."""
        moments = [utc(2026, 12, 1, 20, 45), utc(2026, 12, 1, 20, 50), utc(2026, 12, 1, 20, 59)]
        _, decisions = cycles(RULE, TUESDAY_MQL, moments)
        assert [keys(d) for d in decisions] == [[WARNING], [], []]

    def test_not_when_first_seen_breached(self) -> None:
        """A record first seen past its deadline gets the breach, never a stale warning."""
        assert keys(run(RULE, TUESDAY_MQL, DEADLINE)) == [BREACH]

    def test_rule_without_warning(self) -> None:
        """Without ``warning:``, nothing happens before the deadline, and the breach opens it."""
        rule = make_rule(quiet_hours="none", warning=None)
        before = run(rule, TUESDAY_MQL, DEADLINE - timedelta(seconds=1))
        at = run(rule, TUESDAY_MQL, DEADLINE)
        assert (before.opened, before.notify) == ((), ())
        assert (len(at.opened), keys(at)) == (1, [BREACH])

    def test_warning_fields(self) -> None:
        """A warning is tier 0 with the warning's template and a reason naming the deadline."""
        (decided,) = run(RULE, TUESDAY_MQL, utc(2026, 12, 1, 20, 50)).notify
        n = decided.notification
        assert (n.kind, n.tier, n.template, str(n.recipient)) == (
            Kind.WARNING,
            None,
            "due-soon",
            "owner",
        )
        assert decided.reason == "warning: due Tue 01 Dec 16:00 EST"
        assert (decided.status, decided.budget_key) == (Status.QUEUED, "user:005000000000AL1")


class TestTiers:
    def test_one_second_before_the_deadline(self) -> None:
        """At 15:59:59 only the warning is due."""
        assert keys(run(RULE, TUESDAY_MQL, DEADLINE - timedelta(seconds=1))) == [WARNING]

    def test_breach_at_the_deadline(self) -> None:
        """At the deadline the owner gets tier 1, kind breach, with the tier's template."""
        (decided,) = run(RULE, TUESDAY_MQL, DEADLINE).notify
        assert (decided.notification.template, decided.notification.tier) == ("nudge", 1)
        assert decided.reason == "breach: tier 1, at the deadline"

    def test_every_reached_tier_when_first_seen_late(self) -> None:
        """First seen at tier 2, the record gets tier 1 and each recipient x channel of tier 2;
        the Slack channel once, on Slack, though the tier also says email."""
        assert sorted(keys(run(RULE, TUESDAY_MQL, TIER_2))) == [
            BREACH,
            ("escalation", 2, "#sales-leads", "slack", 0),
            ("escalation", 2, "manager", "email", 0),
            ("escalation", 2, "manager", "slack", 0),
        ]

    def test_decided_keys_are_never_decided_again(self) -> None:
        """A key already in the episode is not decided again, whatever its status."""
        first = only(RULE, TUESDAY_MQL, DEADLINE)
        failed = past(7, Kind.BREACH, 1, "owner", "slack", DEADLINE, Status.FAILED)
        decision = run(
            RULE, TUESDAY_MQL, DEADLINE + timedelta(minutes=30), view_of(episode(first, failed))
        )
        assert decision.notify == ()

    def test_escalation_over_ten_cycles(self) -> None:
        """Ten cycles from warning to past tier 2 send exactly one message per (tier, recipient,
        channel)."""
        moments = [
            utc(2026, 12, 1, 20, 50),
            DEADLINE,
            utc(2026, 12, 1, 21, 10),
            utc(2026, 12, 1, 22, 0),
            utc(2026, 12, 2, 3, 0),
            utc(2026, 12, 2, 13, 0),
            TIER_2 - timedelta(seconds=1),
            TIER_2,
            TIER_2 + timedelta(minutes=1),
            utc(2026, 12, 2, 18, 0),
        ]
        _, decisions = cycles(make_rule(), TUESDAY_MQL, moments)
        sent = Counter(k[:4] for d in decisions for k in keys(d))
        assert set(sent.values()) == {1}
        assert sorted(sent) == [
            ("breach", 1, "owner", "slack"),
            ("escalation", 2, "#sales-leads", "slack"),
            ("escalation", 2, "manager", "email"),
            ("escalation", 2, "manager", "slack"),
            ("warning", 0, "owner", "slack"),
        ]
        assert [len(d.notify) for d in decisions] == [1, 1, 0, 0, 0, 0, 0, 3, 0, 0]

    def test_notify_order_is_deterministic(self) -> None:
        """The same inputs give the same decision, notifications in the same order."""
        assert run(RULE, TUESDAY_MQL, TIER_2) == run(RULE, TUESDAY_MQL, TIER_2)


class TestRepeats:
    @pytest.mark.parametrize(
        ("offset", "expected"),
        [
            (timedelta(minutes=59, seconds=59), []),
            (timedelta(hours=1), [("repeat", 1, "owner", "slack", 1)]),
        ],
    )
    def test_first_repeat_boundary(self, offset: timedelta, expected: list[object]) -> None:
        """Repeat 1 is due exactly one interval after the tier: not a second earlier."""
        view, _ = cycles(REPEATING, TUESDAY_MQL, [DEADLINE])
        # 16:00 EST + 1 business hour is 17:00 EST, still Tuesday.
        assert keys(run(REPEATING, TUESDAY_MQL, DEADLINE + offset, view)) == expected

    def test_repeat_uses_the_tier_and_its_template(self) -> None:
        """A repeat is kind repeat of its tier, with the tier's template and a reason."""
        view, _ = cycles(REPEATING, TUESDAY_MQL, [DEADLINE])
        (decided,) = run(REPEATING, TUESDAY_MQL, utc(2026, 12, 1, 22), view).notify
        n = decided.notification
        assert (n.kind, n.tier, n.template) == (Kind.REPEAT, 1, "nudge")
        assert decided.reason == "repeat 1 of tier 1, every 1 business hour"

    def test_repeats_count_business_time(self) -> None:
        """Overnight no repeat comes due: repeat 2 is Wednesday 10:00 EST, not 18:00 Tuesday."""
        view, _ = cycles(REPEATING, TUESDAY_MQL, [DEADLINE, utc(2026, 12, 1, 22)])
        night = run(REPEATING, TUESDAY_MQL, utc(2026, 12, 2, 8), view)
        morning = run(REPEATING, TUESDAY_MQL, TIER_2, view)
        assert keys(night) == []
        assert ("repeat", 1, "owner", "slack", 2) in keys(morning)

    def test_calendar_time_repeat(self) -> None:
        """A repeat in calendar time is due at tier time + n x interval, to the second."""
        rule = make_rule(quiet_hours="none", escalation=[{"to": "owner", "repeat_every": "30m"}])
        view, _ = cycles(rule, TUESDAY_MQL, [DEADLINE])
        before = run(rule, TUESDAY_MQL, DEADLINE + timedelta(minutes=29, seconds=59), view)
        at = run(rule, TUESDAY_MQL, DEADLINE + timedelta(minutes=30), view)
        assert (keys(before), keys(at)) == ([], [("repeat", 1, "owner", "slack", 1)])

    def test_downtime_coalesces(self) -> None:
        """After downtime only the latest due repeat is sent, never a burst of the missed ones."""
        rule = make_rule(quiet_hours="none", escalation=[{"to": "owner", "repeat_every": "30m"}])
        view, _ = cycles(rule, TUESDAY_MQL, [DEADLINE])
        decision = run(rule, TUESDAY_MQL, DEADLINE + timedelta(hours=3, minutes=10), view)
        assert keys(decision) == [("repeat", 1, "owner", "slack", 6)]

    def test_no_repeat_on_top_of_a_late_first_message(self) -> None:
        """First seen long past the deadline, the tier's first message goes alone, and the next
        repeat waits a whole interval after it: not at the next slot 20 minutes later."""
        rule = make_rule(quiet_hours="none", escalation=[{"to": "owner", "repeat_every": "30m"}])
        late = DEADLINE + timedelta(hours=2, minutes=10)
        view, decisions = cycles(rule, TUESDAY_MQL, [late, late + timedelta(minutes=15)])
        slot = run(rule, TUESDAY_MQL, DEADLINE + timedelta(hours=2, minutes=30), view)
        early = run(rule, TUESDAY_MQL, late + timedelta(minutes=29, seconds=59), view)
        after = run(rule, TUESDAY_MQL, late + timedelta(minutes=30), view)
        assert [keys(d) for d in decisions] == [[BREACH], []]
        assert keys(slot) == keys(early) == []
        assert keys(after) == [("repeat", 1, "owner", "slack", 5)]

    def test_each_repeat_once(self) -> None:
        """A repeat decided is not decided again by the next cycle."""
        _, decisions = cycles(
            REPEATING, TUESDAY_MQL, [DEADLINE, utc(2026, 12, 1, 22), utc(2026, 12, 1, 22, 5)]
        )
        assert [len(d.notify) for d in decisions] == [1, 1, 0]


class TestSilences:
    SILENCE = Silence(
        3,
        rule_id=None,
        record_id=None,
        owner_id="005000000000AL1",
        starts_at=utc(2026, 12, 1),
        ends_at=utc(2026, 12, 2, 14),
        reason="on leave",
        created_by="ops@example.com",
    )

    def test_silenced_is_recorded(self) -> None:
        """A notification a silence covers is decided SILENCED, with the silence in its reason."""
        (decided,) = run(RULE, TUESDAY_MQL, DEADLINE, view_of(silences=[self.SILENCE])).notify
        assert decided.status is Status.SILENCED
        assert decided.reason.endswith("silenced until Wed 02 Dec 09:00 EST by silence 3: on leave")

    def test_other_owner_is_not_silenced(self) -> None:
        """A silence for another owner holds nothing of this record."""
        other = Silence(
            4, None, None, "005000000000BB1", utc(2026, 12, 1), utc(2026, 12, 3), "", ""
        )
        (decided,) = run(RULE, TUESDAY_MQL, DEADLINE, view_of(silences=[other])).notify
        assert decided.status is Status.QUEUED

    def test_released_when_the_silence_ends(self) -> None:
        """When the silence is over and the breach holds, its silenced notification is released."""
        first = only(RULE, TUESDAY_MQL, DEADLINE)
        held = past(5, Kind.BREACH, 1, "owner", "slack", DEADLINE, Status.SILENCED)
        during = run(
            RULE,
            TUESDAY_MQL,
            utc(2026, 12, 2, 13, 59),
            view_of(episode(first, held), silences=[self.SILENCE]),
        )
        after = run(
            RULE,
            TUESDAY_MQL,
            utc(2026, 12, 2, 14),
            view_of(episode(first, held), silences=[self.SILENCE]),
        )
        assert (during.release, after.release) == ((), (5,))

    def test_touched_while_silenced_is_cancelled(self) -> None:
        """A silenced nudge of a lead touched meanwhile is cancelled, not released."""
        first = only(RULE, TUESDAY_MQL, DEADLINE)
        held = past(5, Kind.BREACH, 1, "owner", "slack", DEADLINE, Status.SILENCED)
        decision = run(RULE, TOUCHED, AFTER_TOUCH, view_of(episode(first, held)))
        assert (decision.release, decision.cancel) == ((), (5,))

    def test_release_only_the_latest_repeat(self) -> None:
        """After a long silence, only the latest silenced message of a tier goes; the older
        ones are cancelled."""
        rule = make_rule(quiet_hours="none", escalation=[{"to": "owner", "repeat_every": "30m"}])
        first = only(rule, TUESDAY_MQL, DEADLINE)
        held = [
            past(5, Kind.BREACH, 1, "owner", "slack", DEADLINE, Status.SILENCED),
            past(6, Kind.REPEAT, 1, "owner", "slack", utc(2026, 12, 1, 21, 30), Status.SILENCED, 1),
            past(7, Kind.REPEAT, 1, "owner", "slack", utc(2026, 12, 1, 22), Status.SILENCED, 2),
        ]
        decision = run(rule, TUESDAY_MQL, utc(2026, 12, 1, 22, 10), view_of(episode(first, *held)))
        assert (decision.release, decision.cancel, decision.notify) == ((7,), (5, 6), ())

    def test_silenced_warning_overtaken_by_the_breach(self) -> None:
        """A silenced warning is stale once the record is breached: cancelled, not released."""
        first = only(RULE, TUESDAY_MQL, utc(2026, 12, 1, 20, 50))
        held = past(5, Kind.WARNING, 0, "owner", "slack", utc(2026, 12, 1, 20, 50), Status.SILENCED)
        view = view_of(episode(first, held))
        decision = run(RULE, TUESDAY_MQL, DEADLINE, view)
        assert (decision.release, decision.cancel, keys(decision)) == ((), (5,), [BREACH])


class TestResolved:
    TOLD = (
        past(1, Kind.BREACH, 1, "owner", "slack", DEADLINE),
        past(2, Kind.ESCALATION, 2, "manager", "slack", TIER_2),
        past(3, Kind.ESCALATION, 2, "manager", "email", TIER_2),
        past(4, Kind.REPEAT, 1, "owner", "slack", TIER_2, sequence=2),
    )

    def test_after_touch(self) -> None:
        """A touched lead tells each (recipient, channel) that heard of the breach, once, with
        the stopped evaluation that says how it was touched."""
        first = only(RESOLVING, TUESDAY_MQL, TIER_2)
        decision = run(RESOLVING, TOUCHED, AFTER_TOUCH, view_of(episode(first, *self.TOLD)))
        assert keys(decision) == [
            ("resolved", 0, "manager", "email", 0),
            ("resolved", 0, "manager", "slack", 0),
            ("resolved", 0, "owner", "slack", 0),
        ]
        decided = decision.notify[0]
        assert decided.notification.evaluation.state is State.STOPPED
        assert decided.notification.template == "resolved"
        assert decided.reason.startswith("resolved: touched: Task 'Call: intro'")

    def test_after_leaving_scope(self) -> None:
        """A lead that left the rule is resolved with the episode's latest evaluation."""
        first = only(RESOLVING, TUESDAY_MQL, TIER_2)
        decision = run(RESOLVING, GONE, AFTER_TOUCH, view_of(episode(first, *self.TOLD)))
        assert len(decision.notify) == 3
        assert {d.notification.evaluation for d in decision.notify} == {first}
        assert decision.notify[0].reason == f"resolved: {LEFT_THE_RULE}"

    def test_custom_template(self) -> None:
        """``resolved: {template: ...}`` names the template."""
        rule = make_rule(quiet_hours="none", resolved={"template": "all-clear"})
        first = only(rule, TUESDAY_MQL, TIER_2)
        decision = run(rule, TOUCHED, AFTER_TOUCH, view_of(episode(first, *self.TOLD)))
        assert {d.notification.template for d in decision.notify} == {"all-clear"}

    def test_not_unless_the_rule_asks(self) -> None:
        """Without ``resolved:``, closing an episode sends nothing."""
        first = only(RULE, TUESDAY_MQL, TIER_2)
        assert run(RULE, TOUCHED, AFTER_TOUCH, view_of(episode(first, *self.TOLD))).notify == ()

    def test_not_to_whoever_heard_nothing(self) -> None:
        """A warning, or a breach still queued (cancelled now), earns no resolved message."""
        first = only(RESOLVING, TUESDAY_MQL, DEADLINE)
        held = (
            past(1, Kind.WARNING, 0, "owner", "slack", utc(2026, 12, 1, 20, 50)),
            past(2, Kind.BREACH, 1, "owner", "slack", DEADLINE, Status.QUEUED),
        )
        decision = run(RESOLVING, TOUCHED, AFTER_TOUCH, view_of(episode(first, *held)))
        assert (decision.notify, decision.cancel) == ((), (2,))

    def test_resolved_round_trip(self) -> None:
        """Replayed through the in-memory ledger, a breach then a touch ends in one resolved
        message and no open episode."""
        view, _ = cycles(RESOLVING, TUESDAY_MQL, [DEADLINE])
        decision = run(RESOLVING, TOUCHED, AFTER_TOUCH, view)
        assert keys(decision) == [("resolved", 0, "owner", "slack", 0)]
        assert apply(view, decision, AFTER_TOUCH).episodes == {}
