"""The scheduler's bookkeeping, without running it: which poll jobs the rules ask for, and a
rule's ``poll_every`` as the loader checks it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from apscheduler.schedulers.blocking import BlockingScheduler

from alerter.loader import load_rules
from alerter.service.app import Service
from alerter.service.scheduler import Scheduler
from alerter.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def rules_with(tmp_path: Path, poll_every: str | None) -> Path:
    """The shipped rules, the queue rule asking to be polled every ``poll_every``."""
    rules = tmp_path / "rules"
    shutil.rmtree(rules, ignore_errors=True)
    shutil.copytree(ROOT / "rules", rules)
    if poll_every is not None:
        queue = rules / "lead-in-queue.yaml"
        queue.write_text(queue.read_text("utf-8") + f"poll_every: {poll_every}\n", "utf-8")
    return rules


def scheduler_for(rules: Path) -> Scheduler:
    """A scheduler over a service whose rules are loaded (nothing started, nothing run)."""
    service = Service(
        Settings(rules_dir=rules, templates_dir=ROOT / "templates", poll_interval="5m")  # type: ignore[arg-type]
    )
    assert service.reload(first=True)
    scheduler = Scheduler(service)
    scheduler._scheduler = BlockingScheduler(timezone="UTC")  # not started: jobs wait in it
    return scheduler


def poll_jobs(scheduler: Scheduler) -> dict[str, tuple[float, frozenset[str]]]:
    assert scheduler._scheduler is not None
    return {
        job.id: (job.trigger.interval.total_seconds(), job.args[0])
        for job in scheduler._scheduler.get_jobs()
        if job.id.startswith("poll-")
    }


class TestRulePolls:
    def test_a_rule_asking_for_a_shorter_interval_gets_its_own_job(self, tmp_path: Path) -> None:
        """``poll_every: 1m`` under a 5-minute poll adds a job polling just that rule."""
        scheduler = scheduler_for(rules_with(tmp_path, "1m"))
        scheduler._sync_rule_polls()
        assert poll_jobs(scheduler) == {"poll-60s": (60.0, frozenset({"lead-in-queue"}))}

    def test_longer_or_no_interval_adds_nothing(self, tmp_path: Path) -> None:
        """A rule asking for 10 minutes is polled with the others every 5."""
        scheduler = scheduler_for(rules_with(tmp_path, "10m"))
        scheduler._sync_rule_polls()
        assert poll_jobs(scheduler) == {}

    def test_reload_removes_a_job_no_rule_asks_for(self, tmp_path: Path) -> None:
        """When the rule stops asking, its job goes."""
        scheduler = scheduler_for(rules_with(tmp_path, "1m"))
        scheduler._sync_rule_polls()
        rules_with(tmp_path, None)
        assert scheduler.service.reload(force=True)
        scheduler._sync_rule_polls()
        assert poll_jobs(scheduler) == {}


class TestPollEvery:
    @pytest.mark.parametrize(
        ("value", "problem"),
        [
            ("10s", "poll_every is wall-clock time of at least 30 s (not 10s)"),
            ("1 business hour", "poll_every is wall-clock time of at least 30 s"),
        ],
    )
    def test_refused(self, tmp_path: Path, value: str, problem: str) -> None:
        """Too short, or in business time, is an error at the ``poll_every`` line."""
        rules = rules_with(tmp_path, value)
        errors = [str(e) for e in load_rules([rules]).errors]
        line = len((rules / "lead-in-queue.yaml").read_text("utf-8").splitlines())
        assert len(errors) == 1
        assert errors[0].startswith(f"{rules / 'lead-in-queue.yaml'}:{line}: ")
        assert problem in errors[0]

    def test_accepted(self, tmp_path: Path) -> None:
        """``30s`` is the shortest allowed."""
        ruleset = load_rules([rules_with(tmp_path, "30s")])
        assert ruleset.errors == ()
        queue = {rule.id: rule for rule in ruleset.rules}["lead-in-queue"]
        assert queue.poll_every is not None
        assert queue.poll_every.amount.total_seconds() == 30
