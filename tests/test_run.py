"""``alerter run``: the service as a real process against the sandbox (the issue's end-to-end
drill), and ``run --once`` in-process with its exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from freezegun import freeze_time

from alerter.cli import main
from alerter.demo import DEMO_AT, demo_snapshot_path
from alerter.ledger.store import Ledger
from alerter.sandbox.drill import DrillResult, run_drill
from alerter.sandbox.run import Sandbox, running_sandbox

ROOT = Path(__file__).resolve().parents[1]
LEADS, TOUCHED = 6, 2


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> DrillResult:
    """One drill for the module: 6 leads due 5 to 6.5 s after start, a 5-minute poll."""
    return run_drill(
        tmp_path_factory.mktemp("drill"),
        templates_dir=ROOT / "templates",
        leads=LEADS,
        touched=TOUCHED,
        sla=6,
        escalate=3,
        first_deadline=5.0,
        spacing=0.3,
        poll_interval="5m",
        timeout=60,
    )


class TestDrill:
    def test_nudged_within_seconds_of_the_deadline(self, drill: DrillResult) -> None:
        """Every untouched lead is nudged within seconds of its deadline, though the next poll
        is five minutes away: a wake-up re-checked it."""
        assert drill.missing == []
        assert len(drill.delays) == LEADS - TOUCHED
        assert all(delay >= 0 for delay in drill.delays)
        assert drill.worst < 10, drill.delays
        assert drill.metrics["alerter_wakeups_total"] >= 1

    def test_touched_lead_is_not_nudged(self, drill: DrillResult) -> None:
        """A lead with a call logged before its deadline gets nothing."""
        assert drill.touched_nudged == 0

    def test_second_tier_emails_the_manager(self, drill: DrillResult) -> None:
        """Three seconds past each deadline the manager is emailed, once per lead."""
        assert drill.escalations == LEADS - TOUCHED

    def test_sigterm_stops_cleanly(self, drill: DrillResult) -> None:
        """SIGTERM ends the process with exit code 0 after it says it stopped."""
        assert drill.exit_code == 0
        assert '"event": "service.stopped"' in drill.log

    def test_healthz_and_metrics(self, drill: DrillResult) -> None:
        """``/healthz`` is ok and ``/metrics`` counts what happened."""
        status, body = drill.healthz
        assert status == 200
        assert body["status"] == "ok"
        assert drill.metrics["alerter_notifications_total"] == 2 * (LEADS - TOUCHED)
        assert drill.metrics["alerter_salesforce_api_calls_total"] > 0
        assert drill.metrics["alerter_outbox_depth"] == 0
        assert drill.metrics["alerter_records_evaluated_last_poll"] == LEADS

    def test_no_secret_in_the_log(self, drill: DrillResult) -> None:
        """Neither the Slack token nor the Salesforce or SMTP passwords reach a log line."""
        assert drill.secrets
        for secret in drill.secrets:
            assert secret not in drill.log


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(demo_snapshot_path(), now=DEMO_AT) as running:
        yield running


def configure(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, tmp_path: Path) -> None:
    for name, value in sandbox.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ALERTER_RULES_DIR", str(ROOT / "rules"))
    monkeypatch.setenv("ALERTER_TEMPLATES_DIR", str(ROOT / "templates"))
    monkeypatch.setenv("ALERTER_STATE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")


class TestOnce:
    def test_one_cycle_exits_zero(
        self, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``run --once`` polls, decides, sends what the calendar allows now (the wall clock
        decides: the rest waits for quiet hours to end) and exits 0."""
        configure(monkeypatch, sandbox, tmp_path)
        assert main(["run", "--once"]) == 0
        ledger = Ledger.connect(f"sqlite:///{tmp_path / 'ledger.db'}")
        try:
            history = ledger.history()
        finally:
            ledger.close()
        assert history
        sent = [h for h in history if h.status == "sent"]
        held = [h for h in history if h.status == "queued"]
        assert len(sent) + len(held) == len(history)
        assert all("held for quiet hours" in h.reason for h in held)
        assert len(sandbox.slack.messages) + len(sandbox.smtp.messages) == len(sent)

    def test_no_secret_in_any_output(
        self,
        sandbox: Sandbox,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        """With a secret in every secret setting, Slack refusing the token (so errors are
        logged) and debug logs on, no secret appears on stdout or stderr."""
        configure(monkeypatch, sandbox, tmp_path)
        monkeypatch.setenv("ALERTER_LOG_LEVEL", "debug")
        monkeypatch.setenv("ALERTER_SALESFORCE__CONSUMER_SECRET", "consumer-SECRET-4471")
        environment = sandbox.environment()
        secrets = [
            value
            for name, value in environment.items()
            if name.endswith(("PASSWORD", "TOKEN", "SECRET"))
        ]
        secrets.append("consumer-SECRET-4471")
        sandbox.slack.revoke(environment["ALERTER_SLACK__TOKEN"])
        with freeze_time(DEMO_AT):
            assert main(["run", "--once"]) == 0
        output = capfd.readouterr()
        assert "slack.send_failed" in output.err
        assert len(secrets) == 5
        for secret in secrets:
            assert secret not in output.out
            assert secret not in output.err

    def test_unreachable_org_fails_the_cycle(
        self, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With the org down for good, the cycle fails and ``run --once`` exits 1."""
        configure(monkeypatch, sandbox, tmp_path)
        monkeypatch.setenv("ALERTER_SALESFORCE__RETRY_ATTEMPTS", "1")
        sandbox.salesforce.faults.fail_next(50, status=503)
        assert main(["run", "--once"]) == 1

    def test_unreachable_ledger_is_a_configuration_error(
        self,
        sandbox: Sandbox,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A ledger that cannot be opened exits 2 with a one-line reason."""
        configure(monkeypatch, sandbox, tmp_path)
        monkeypatch.setenv("ALERTER_STATE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
        assert main(["run", "--once"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("alerter run: cannot use the ledger at postgresql")

    def test_broken_user_map_is_a_configuration_error(
        self,
        sandbox: Sandbox,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A Slack user map that does not parse stops the start with its path, exit 2."""
        configure(monkeypatch, sandbox, tmp_path)
        users = tmp_path / "users.yaml"
        users.write_text("rita@example.com: [not, an, id]\n", encoding="utf-8")
        monkeypatch.setenv("ALERTER_SLACK__USER_MAP_FILE", str(users))
        assert main(["run", "--once"]) == 2
        assert f"{users}: 'rita@example.com' maps to" in capsys.readouterr().err

    def test_missing_credentials_is_a_configuration_error(
        self,
        sandbox: Sandbox,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """No Slack token and no mail server: nothing could ever be delivered, exit 2."""
        configure(monkeypatch, sandbox, tmp_path)
        monkeypatch.delenv("ALERTER_SLACK__TOKEN")
        monkeypatch.delenv("ALERTER_SMTP__HOST")
        assert main(["run", "--once"]) == 2
        assert "no way to deliver" in capsys.readouterr().err
