"""The service's cycle end to end, on SQLite and PostgreSQL: the real Salesforce client against
the emulator seeded with the demo org, decide, the ledger's outbox, routing, the shipped
templates, and the real Slack and SMTP clients against the Slack fake and the SMTP sink.

The demo org at Tue 1 Dec 2026 16:00 New York (``DEMO_AT``): Grace Hopper (Alice's) is 10 min
past her 1-business-hour SLA, Alan Turing (Bob's) is in his warning, older breaches have
reached tiers 2 and 3. The service reads the wall clock, which freezegun moves, so cycles can be
minutes or nights apart without waiting.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from structlog.testing import capture_logs

from alerter.demo import DEMO_AT, demo_snapshot_path
from alerter.sandbox.run import Sandbox, running_sandbox, slack_users
from alerter.service.app import CycleResult, Service
from alerter.service.cycle import poll
from alerter.settings import Settings

pytest_plugins = ["ledger_backends"]  # state_url: an empty ledger on SQLite and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]
GRACE, ALAN = "00Q0000000DEM02", "00Q0000000DEM03"


class Clock:
    """The wall clock under freezegun: frozen at the demo moment and moved only when a test
    says so, so boundaries are exact (16:59:59 is not 17:00)."""

    def __init__(self, frozen: Any) -> None:
        self._frozen = frozen

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    @now.setter
    def now(self, moment: datetime) -> None:
        self._frozen.move_to(moment)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(demo_snapshot_path(), now=DEMO_AT) as running:
        yield running


@pytest.fixture
def clock(sandbox: Sandbox) -> Iterator[Clock]:
    with freeze_time(DEMO_AT) as frozen:
        yield Clock(frozen)


def start(sandbox: Sandbox, url: str, clock: Clock, **settings: object) -> Service:
    """A started service on the sandbox and the ledger at ``url``, health off."""
    values: dict[str, object] = {
        "rules_dir": ROOT / "rules",
        "templates_dir": ROOT / "templates",
        "state_url": url,
        "health_port": None,
        **settings,
    }
    base = Settings(**values)  # type: ignore[arg-type]
    configured = sandbox.configure(base)
    no_waits = configured.salesforce.model_copy(update={"retry_wait": 0})  # retries stay
    service = Service(configured.model_copy(update={"salesforce": no_waits}))  # wall clock
    service.start()
    return service


@pytest.fixture
def service(sandbox: Sandbox, state_url: str, clock: Clock) -> Iterator[Service]:
    running = start(sandbox, state_url, clock)
    yield running
    running.stop()


def slack_id(sandbox: Sandbox, email: str) -> str:
    users = slack_users(sandbox.salesforce.org.records("User"))
    return next(user.id for user in users if user.email == email)


def about(sandbox: Sandbox, name: str) -> list[dict[str, object]]:
    return [m for m in sandbox.slack.messages if name in str(m["text"])]


def cycle_at(service: Service, clock: Clock, now: datetime) -> CycleResult:
    clock.now = now
    result = service.cycle()
    assert result.poll.ok, result.poll.error
    return result


class TestDedup:
    def test_ten_cycles_one_message_per_breach_and_tier(
        self, service: Service, sandbox: Sandbox, clock: Clock
    ) -> None:
        """Ten cycles a minute apart send each decided message once: the first cycle tells
        everyone; after it only the queue lead that breaches at 16:05 is news."""
        results = [cycle_at(service, clock, DEMO_AT + timedelta(minutes=i)) for i in range(10)]
        assert results[0].send.sent == results[0].poll.decided > 0
        assert [r.poll.decided for r in results[1:]] == [0, 0, 0, 0, 1, 0, 0, 0, 0]
        assert [r.send.sent for r in results] == [r.poll.decided for r in results]
        assert sum(r.send.failed for r in results) == 0
        total = sum(r.send.sent for r in results)
        assert len(sandbox.slack.messages) + len(sandbox.smtp.messages) == total
        history = service.parts.ledger.history()
        keys = Counter((h.episode_id, h.kind, h.tier, h.recipient, h.channel) for h in history)
        assert set(keys.values()) == {1}
        assert {h.status for h in history} == {"sent"}

    def test_grace_hopper_is_nudged_once_in_alices_dm(
        self, service: Service, sandbox: Sandbox, clock: Clock
    ) -> None:
        """The 10-minute-old breach is one DM to its owner, with the record's button."""
        cycle_at(service, clock, DEMO_AT)
        cycle_at(service, clock, DEMO_AT + timedelta(minutes=5))
        [dm] = about(sandbox, "Grace Hopper")
        alice = slack_id(sandbox, "alice@example.com")
        assert dm["channel"] == alice
        [row] = service.parts.ledger.history(GRACE)
        assert row.targets == (alice,)
        assert f"/lightning/r/Lead/{GRACE}/view" in str(dm["blocks"])


class TestOutage:
    def test_an_org_outage_decides_nothing_and_closes_nothing(
        self, service: Service, sandbox: Sandbox, clock: Clock
    ) -> None:
        """When Salesforce fails past its retries, the cycle says so and nothing is decided,
        sent or closed on half-read data; the next cycle catches up."""
        cycle_at(service, clock, DEMO_AT)
        told = len(sandbox.slack.messages)
        sandbox.salesforce.faults.fail_next(200, status=503)
        clock.now = DEMO_AT + timedelta(minutes=6)
        failed = service.cycle()
        assert not failed.poll.ok
        assert (failed.poll.decided, failed.poll.closed, failed.send.sent) == (0, 0, 0)
        assert len(sandbox.slack.messages) == told
        sandbox.salesforce.faults.clear()
        again = cycle_at(service, clock, DEMO_AT + timedelta(minutes=7))
        assert again.poll.closed == 0
        assert again.send.sent == again.poll.decided == 1  # the queue lead due at 16:05


class TestRateLimits:
    def test_a_429_storm_delays_but_loses_nothing(
        self, service: Service, sandbox: Sandbox, clock: Clock
    ) -> None:
        """Three 429s in a row outlast the SDK's two waits for one message: it goes back to the
        queue, every 429 is counted, and the next drain after its back-off delivers it."""
        sandbox.slack.rate_limit(method="chat.postMessage", count=3, retry_after=0)
        first = cycle_at(service, clock, DEMO_AT)
        assert first.send.rate_limited == 3
        assert first.send.retrying == 1
        assert first.send.sent == first.poll.decided - 1
        clock.now = DEMO_AT + timedelta(minutes=1)  # past the back-off (at most 30 s)
        later = service.send()
        assert (later.sent, later.retrying, later.failed) == (1, 0, 0)
        history = service.parts.ledger.history()
        assert {h.status for h in history} == {"sent"}
        assert len(sandbox.slack.messages) + len(sandbox.smtp.messages) == len(history)


class TestRulePoll:
    def test_polling_one_rule_leaves_the_others_alone(
        self, service: Service, sandbox: Sandbox, clock: Clock
    ) -> None:
        """A poll of just the queue rule (its ``poll_every``) tells the queue channel and
        nobody else, and closes no episode of the rules it did not read."""
        result = service.cycle(only={"lead-in-queue"})
        assert result.poll.ok
        assert {m["channel"] for m in sandbox.slack.messages} == {"#sales-queue"}
        assert sandbox.smtp.messages == []
        full = cycle_at(service, clock, DEMO_AT + timedelta(minutes=1))
        assert full.poll.closed == 0
        assert full.send.sent > 0


class TestRepeatsAndEscalation:
    def test_repeat_after_one_business_hour(
        self, service: Service, sandbox: Sandbox, clock: Clock
    ) -> None:
        """Tier 1 repeats every business hour, never sooner than an hour after the last nudge:
        nothing at 16:59:59 New York; at 17:00 the repeat is decided, but the calendar has just
        closed, so it waits for 09:00 the next morning."""
        cycle_at(service, clock, DEMO_AT)
        cycle_at(service, clock, DEMO_AT + timedelta(minutes=59, seconds=59))
        assert len(about(sandbox, "Grace Hopper")) == 1
        cycle_at(service, clock, DEMO_AT + timedelta(hours=1))
        repeats = [h for h in service.parts.ledger.history(GRACE) if h.kind == "repeat"]
        assert [(h.tier, h.sequence, h.status) for h in repeats] == [(1, 1, "queued")]
        clock.now = datetime.fromisoformat("2026-12-02T14:00:00+00:00")
        service.send()
        repeats = [h for h in service.parts.ledger.history(GRACE) if h.kind == "repeat"]
        assert [h.status for h in repeats] == ["sent"]
        assert len(about(sandbox, "Grace Hopper")) == 2

    def test_warning_then_breach(self, service: Service, sandbox: Sandbox, clock: Clock) -> None:
        """Alan Turing is warned in his last 15 minutes and nudged at his deadline, 16:10 NY."""
        cycle_at(service, clock, DEMO_AT)
        cycle_at(service, clock, DEMO_AT + timedelta(minutes=9, seconds=59))
        kinds = [h.kind for h in service.parts.ledger.history(ALAN)]
        assert kinds == ["warning"]
        cycle_at(service, clock, DEMO_AT + timedelta(minutes=10))
        kinds = [h.kind for h in service.parts.ledger.history(ALAN)]
        assert kinds == ["warning", "breach"]
        bob = slack_id(sandbox, "bob@example.com")
        assert [m["channel"] for m in about(sandbox, "Alan Turing")] == [bob, bob]


class TestResolution:
    def test_a_call_resolves_and_says_so(
        self, service: Service, sandbox: Sandbox, clock: Clock
    ) -> None:
        """Alice logs a call on Grace Hopper: the episode closes, Alice is told it is resolved,
        and no repeat follows."""
        cycle_at(service, clock, DEMO_AT)
        sandbox.salesforce.org.create(
            "Task", {"WhoId": GRACE, "Subject": "Call", "TaskSubtype": "Call"}
        )
        after = cycle_at(service, clock, DEMO_AT + timedelta(minutes=5))
        assert after.poll.closed >= 1
        resolved = [h for h in service.parts.ledger.history(GRACE) if h.kind == "resolved"]
        assert [(h.recipient, h.channel, h.status) for h in resolved] == [
            ("owner", "slack", "sent")
        ]
        assert "no longer needs attention" in str(about(sandbox, "Grace Hopper")[-1]["blocks"])
        later = cycle_at(service, clock, DEMO_AT + timedelta(hours=2))
        assert [h.kind for h in service.parts.ledger.history(GRACE)] == ["breach", "resolved"]
        assert later.poll.ok


class TestSilences:
    def test_silence_holds_then_releases(
        self, service: Service, sandbox: Sandbox, clock: Clock
    ) -> None:
        """A silence on Grace Hopper keeps her nudge (recorded as silenced) until it ends;
        then it goes out, once."""
        service.parts.ledger.add_silence(
            record_id=GRACE,
            ends_at=DEMO_AT + timedelta(minutes=30),
            reason="on holiday",
            created_by="ops",
            now=DEMO_AT,
        )
        cycle_at(service, clock, DEMO_AT)
        assert about(sandbox, "Grace Hopper") == []
        assert [h.status for h in service.parts.ledger.history(GRACE)] == ["silenced"]
        cycle_at(service, clock, DEMO_AT + timedelta(minutes=29, seconds=59))
        assert about(sandbox, "Grace Hopper") == []
        cycle_at(service, clock, DEMO_AT + timedelta(minutes=30))
        cycle_at(service, clock, DEMO_AT + timedelta(minutes=31))
        assert len(about(sandbox, "Grace Hopper")) == 1
        assert [h.status for h in service.parts.ledger.history(GRACE)] == ["sent"]


class TestQuietHours:
    def test_held_overnight_sent_at_the_opening(
        self, service: Service, sandbox: Sandbox, clock: Clock
    ) -> None:
        """At 22:00 New York the calendar is closed: everything decided waits, and goes out at
        09:00 the next morning, not a minute before."""
        night = cycle_at(service, clock, datetime.fromisoformat("2026-12-02T03:00:00+00:00"))
        assert night.poll.decided > 0
        assert night.send.sent == 0
        assert sandbox.slack.messages == []
        clock.now = datetime.fromisoformat("2026-12-02T13:59:59+00:00")
        assert service.send().sent == 0
        clock.now = datetime.fromisoformat("2026-12-02T14:00:00+00:00")
        assert service.send().sent == night.poll.decided


class TestBudget:
    def test_over_budget_folds_into_a_summary(
        self,
        sandbox: Sandbox,
        state_url: str,
        clock: Clock,
    ) -> None:
        """With a budget of one message an hour, Alice gets her first nudge and one summary of
        the rest, not one DM per lead."""
        service = start(sandbox, state_url, clock, budget_per_hour=1)
        try:
            cycle_at(service, clock, DEMO_AT)
        finally:
            service.stop()
        alice = slack_id(sandbox, "alice@example.com")
        to_alice = [m for m in sandbox.slack.messages if m["channel"] == alice]
        assert len(to_alice) == 2
        assert "more leads need attention" in str(to_alice[1]["blocks"])


class TestCrash:
    def test_claimed_but_never_marked_is_sent_again_once(
        self,
        sandbox: Sandbox,
        state_url: str,
        clock: Clock,
    ) -> None:
        """A sender that dies between claiming and marking: after the stale time (5 min) the
        restarted service sends those messages, once, and never again."""
        crashed = start(sandbox, state_url, clock)
        try:
            decided = poll(crashed.rules.rules, crashed.parts, DEMO_AT)
            claimed = crashed.parts.ledger.claim(DEMO_AT, worker="crashed", limit=100)
        finally:
            crashed.stop()
        assert len(claimed) == decided.decided > 0
        assert sandbox.slack.messages == []
        restarted = start(sandbox, state_url, clock)
        try:
            early = cycle_at(restarted, clock, DEMO_AT + timedelta(minutes=4, seconds=59))
            assert early.send.sent == early.poll.decided == 0
            late = cycle_at(restarted, clock, DEMO_AT + timedelta(minutes=5))
            again = cycle_at(restarted, clock, DEMO_AT + timedelta(minutes=6))
        finally:
            restarted.stop()
        assert late.send.sent == len(claimed) + late.poll.decided
        assert again.send.sent == 0
        messages = len(sandbox.slack.messages) + len(sandbox.smtp.messages)
        assert messages == len(claimed) + late.poll.decided


class TestReload:
    def test_broken_change_keeps_the_running_rules(
        self, sandbox: Sandbox, state_url: str, clock: Clock, tmp_path: Path
    ) -> None:
        """A rule file broken in place is reported and the previous rules keep running; the
        fixed file is picked up."""
        rules = tmp_path / "rules"
        shutil.copytree(ROOT / "rules", rules)
        service = start(sandbox, state_url, clock, rules_dir=rules)
        try:
            before = [rule.id for rule in service.rules.rules]
            target = rules / "lead-in-queue.yaml"
            good = target.read_text(encoding="utf-8")
            target.write_text(good.replace("sla:", "sla: 1 business fortnight\nslaa:"), "utf-8")
            with capture_logs() as logs:
                assert service.reload() is False
            assert [rule.id for rule in service.rules.rules] == before
            errors = [e for e in logs if e["event"] == "rules.error"]
            assert errors
            assert str(target) in errors[0]["error"]
            assert service.metrics.registry.get_sample_value("alerter_rule_errors") >= 1
            assert service.reload() is False  # unchanged files: nothing to do
            target.write_text(good.replace("title:", "title: Renamed;"), "utf-8")
            assert service.reload() is True
            assert service.metrics.registry.get_sample_value("alerter_rule_errors") == 0
            renamed = {rule.id: rule.title for rule in service.rules.rules}["lead-in-queue"]
            assert renamed.startswith("Renamed;")
        finally:
            service.stop()
