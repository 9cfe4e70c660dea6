"""/metrics and /healthz, read over real HTTP from a server on a free port."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from alerter.ledger.store import Ledger
from alerter.service.cycle import PollReport, SendReport
from alerter.service.health import HealthServer, assess, ping_ledger
from alerter.service.metrics import Metrics
from alerter.settings import Settings

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
MAX_AGE = timedelta(minutes=15)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def get(url: str) -> tuple[int, str, str]:
    """Status, Content-Type and body of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read().decode()


def samples(server: HealthServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by name and sorted labels."""
    status, content_type, body = get(server.url + "/metrics")
    assert status == 200
    assert content_type == CONTENT_TYPE_LATEST
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def healthz(server: HealthServer) -> tuple[int, dict[str, Any]]:
    status, content_type, body = get(server.url + "/healthz")
    assert content_type == "application/json"
    return status, json.loads(body)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def serve(
    metrics: Metrics, clock: Clock
) -> Iterator[Callable[[Callable[[], str | None]], HealthServer]]:
    """Start a server with the given ledger check; every server started is stopped after."""
    started: list[HealthServer] = []

    def start(check: Callable[[], str | None] = lambda: None) -> HealthServer:
        server = HealthServer(metrics, check, max_age=MAX_AGE, clock=clock, port=0)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(serve: Callable[..., HealthServer]) -> HealthServer:
    return serve()


def poll(**figures: Any) -> PollReport:
    return PollReport(**figures)


class TestMetrics:
    def test_poll_figures(self, metrics: Metrics, server: HealthServer) -> None:
        """A full poll sets the evaluated gauge, the counters, the allowance and open breaches."""
        report = poll(
            evaluated=120,
            open_breaches={("mql-first-touch", 1): 3, ("mql-first-touch", 0): 2, ("stale", 2): 1},
            api_calls=7,
            daily_usage=(1500, 100000),
        )
        metrics.observe_poll(report, 2.5, full=True, now=START)
        got = samples(server)
        assert got["alerter_cycles_total", (("outcome", "ok"),)] == 1
        assert got["alerter_cycles_total", (("outcome", "failed"),)] == 0
        assert got["alerter_cycle_duration_seconds_count", ()] == 1
        assert got["alerter_cycle_duration_seconds_sum", ()] == 2.5
        assert got["alerter_cycle_duration_seconds_bucket", (("le", "2.5"),)] == 1
        assert got["alerter_cycle_duration_seconds_bucket", (("le", "1.0"),)] == 0
        assert got["alerter_records_evaluated_last_poll", ()] == 120
        assert got["alerter_records_evaluated_total", ()] == 120
        assert got["alerter_salesforce_api_calls_total", ()] == 7
        assert got["alerter_salesforce_daily_api_remaining", ()] == 98500
        assert got["alerter_last_success_timestamp_seconds", ()] == START.timestamp()
        breaches = {k[1]: v for k, v in got.items() if k[0] == "alerter_open_breaches"}
        assert breaches == {
            (("rule", "mql-first-touch"), ("tier", "1")): 3,
            (("rule", "mql-first-touch"), ("tier", "0")): 2,
            (("rule", "stale"), ("tier", "2")): 1,
        }
        assert metrics.last_success == START

    def test_counters_add_up(self, metrics: Metrics, server: HealthServer) -> None:
        """Counters add each poll's figures; the evaluated gauge keeps the last full poll's."""
        metrics.observe_poll(poll(evaluated=100, api_calls=5), 1, full=True, now=START)
        metrics.observe_poll(poll(evaluated=3, api_calls=1), 0.2, full=False, now=START)
        got = samples(server)
        assert got["alerter_records_evaluated_total", ()] == 103
        assert got["alerter_records_evaluated_last_poll", ()] == 100
        assert got["alerter_salesforce_api_calls_total", ()] == 6
        assert got["alerter_cycles_total", (("outcome", "ok"),)] == 2

    def test_resolved_breach_disappears(self, metrics: Metrics, server: HealthServer) -> None:
        """A rule and tier with no breach at the next full poll leave /metrics, not read 0."""
        first = {("mql-first-touch", 1): 3, ("stale", 2): 1}
        metrics.observe_poll(poll(open_breaches=first), 1, full=True, now=START)
        second = {("mql-first-touch", 1): 1}
        metrics.observe_poll(poll(open_breaches=second), 1, full=True, now=START)
        got = samples(server)
        breaches = {k[1]: v for k, v in got.items() if k[0] == "alerter_open_breaches"}
        assert breaches == {(("rule", "mql-first-touch"), ("tier", "1")): 1}

    def test_partial_polls_keep_breaches(self, metrics: Metrics, server: HealthServer) -> None:
        """A wake-up or a failed poll sees only part of the org, so open breaches stay as they
        were; the failed poll counts as failed and is no success."""
        metrics.observe_poll(
            poll(evaluated=50, open_breaches={("stale", 1): 4}), 1, full=True, now=START
        )
        later = START + timedelta(minutes=5)
        metrics.observe_poll(poll(evaluated=1), 0.1, full=False, now=later)
        failed = poll(evaluated=9, error="org unreachable", api_calls=2)
        metrics.observe_poll(failed, 30, full=True, now=later + timedelta(minutes=5))
        got = samples(server)
        assert got["alerter_open_breaches", (("rule", "stale"), ("tier", "1"))] == 4
        assert got["alerter_records_evaluated_last_poll", ()] == 50
        assert got["alerter_cycles_total", (("outcome", "failed"),)] == 1
        assert got["alerter_cycles_total", (("outcome", "ok"),)] == 2
        assert got["alerter_salesforce_api_calls_total", ()] == 2
        assert got["alerter_last_success_timestamp_seconds", ()] == later.timestamp()
        assert metrics.last_success == later

    def test_allowance_unknown_until_reported(self, metrics: Metrics, server: HealthServer) -> None:
        """Before any poll reports it the remaining allowance is NaN, not an exhausted 0."""
        value = samples(server)["alerter_salesforce_daily_api_remaining", ()]
        assert value != value

    def test_send_figures(self, metrics: Metrics, server: HealthServer) -> None:
        """Notifications count by channel, kind and status over drains; 429s count apart."""
        metrics.observe_send(
            SendReport(
                by_channel={("slack", "nudge", "sent"): 4, ("email", "nudge", "retrying"): 1},
                rate_limited=2,
            )
        )
        metrics.observe_send(SendReport(by_channel={("slack", "nudge", "sent"): 1}))
        got = samples(server)
        slack = (("channel", "slack"), ("kind", "nudge"), ("status", "sent"))
        email = (("channel", "email"), ("kind", "nudge"), ("status", "retrying"))
        assert got["alerter_notifications_total", slack] == 5
        assert got["alerter_notifications_total", email] == 1
        assert got["alerter_slack_rate_limited_total", ()] == 2

    def test_outbox_rules_wakeups(self, metrics: Metrics, server: HealthServer) -> None:
        """Outbox depth and oldest age, rule errors and wake-ups show as set."""
        metrics.set_outbox(12, timedelta(minutes=3, seconds=5))
        metrics.set_rule_errors(2)
        metrics.wakeup()
        metrics.wakeup()
        got = samples(server)
        assert got["alerter_outbox_depth", ()] == 12
        assert got["alerter_outbox_oldest_age_seconds", ()] == 185
        assert got["alerter_rule_errors", ()] == 2
        assert got["alerter_wakeups_total", ()] == 2

    def test_empty_outbox(self, metrics: Metrics, server: HealthServer) -> None:
        """With nothing waiting the oldest age reads 0."""
        metrics.set_outbox(3, timedelta(seconds=40))
        metrics.set_outbox(0, None)
        got = samples(server)
        assert got["alerter_outbox_depth", ()] == 0
        assert got["alerter_outbox_oldest_age_seconds", ()] == 0

    def test_registries_apart(self) -> None:
        """Two Metrics in one process do not clash and do not share figures."""
        one, two = Metrics(), Metrics()
        one.wakeup()
        assert one.registry.get_sample_value("alerter_wakeups_total") == 1
        assert two.registry.get_sample_value("alerter_wakeups_total") == 0


class TestHealthz:
    def test_ok_after_success(self, metrics: Metrics, clock: Clock, server: HealthServer) -> None:
        """A success within max_age and a ledger that answers give 200."""
        metrics.observe_poll(poll(), 1, full=True, now=START + timedelta(minutes=1))
        clock.now = START + timedelta(minutes=10)
        status, body = healthz(server)
        assert status == 200
        assert body == {
            "status": "ok",
            "last_success": "2026-12-01T14:01:00+00:00",
            "age_seconds": 540.0,
            "ledger": "ok",
            "reasons": [],
        }

    def test_stale_success(self, metrics: Metrics, clock: Clock, server: HealthServer) -> None:
        """A last success exactly max_age ago is fine; a second more gives 503."""
        metrics.observe_poll(poll(), 1, full=True, now=START)
        clock.now = START + MAX_AGE
        assert healthz(server)[0] == 200
        clock.now += timedelta(seconds=1)
        status, body = healthz(server)
        assert status == 503
        assert body["status"] == "unhealthy"
        assert body["age_seconds"] == 901.0
        assert body["reasons"] == ["last successful cycle 901s ago (at most 900s)"]

    def test_start_grace(self, clock: Clock, server: HealthServer) -> None:
        """A fresh service is healthy for max_age from start, then 503 without a success."""
        clock.now = START + MAX_AGE
        status, body = healthz(server)
        assert status == 200
        assert body["last_success"] is None
        assert body["age_seconds"] is None
        clock.now += timedelta(seconds=1)
        status, body = healthz(server)
        assert status == 503
        assert body["reasons"] == ["no successful cycle in the 901s since start (at most 900s)"]

    def test_failed_polls_are_no_success(
        self, metrics: Metrics, clock: Clock, server: HealthServer
    ) -> None:
        """Polls that keep failing do not keep the service healthy."""
        clock.now = START + MAX_AGE + timedelta(minutes=1)
        metrics.observe_poll(poll(error="org unreachable"), 1, full=True, now=clock.now)
        assert healthz(server)[0] == 503

    def test_ledger_error(
        self,
        metrics: Metrics,
        serve: Callable[[Callable[[], str | None]], HealthServer],
    ) -> None:
        """A ledger check that reports an error gives 503 with the error."""
        metrics.observe_poll(poll(), 1, full=True, now=START)
        status, body = healthz(serve(lambda: "OperationalError: database is locked"))
        assert status == 503
        assert body["ledger"] == "OperationalError: database is locked"
        assert body["reasons"] == ["ledger: OperationalError: database is locked"]

    def test_ledger_check_raises(
        self,
        metrics: Metrics,
        serve: Callable[[Callable[[], str | None]], HealthServer],
    ) -> None:
        """A ledger check that raises gives 503 naming the exception, not a 500."""

        def broken() -> str | None:
            raise ConnectionError("connection refused\nsecond line")

        metrics.observe_poll(poll(), 1, full=True, now=START)
        status, body = healthz(serve(broken))
        assert status == 503
        assert body["ledger"] == "ConnectionError: connection refused"

    def test_assess_is_pure(self) -> None:
        """The verdict depends only on its arguments: both reasons at once."""
        health = assess(
            last_success=START,
            started=START - timedelta(hours=1),
            now=START + timedelta(hours=1),
            max_age=MAX_AGE,
            ledger_error="down",
        )
        assert not health.ok
        assert health.reasons == (
            "last successful cycle 3600s ago (at most 900s)",
            "ledger: down",
        )


class TestLedgerPing:
    def test_reachable(self, tmp_path: Path) -> None:
        """A ledger whose database answers gives no error."""
        ledger = Ledger.connect(f"sqlite:///{tmp_path / 'alerter.db'}")
        try:
            assert ping_ledger(ledger) is None
        finally:
            ledger.close()

    def test_unreachable(self, tmp_path: Path) -> None:
        """A database that cannot be opened gives the driver's one-line reason."""
        from alerter.ledger.engine import make_engine

        ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'missing' / 'alerter.db'}"))
        try:
            assert ping_ledger(ledger) == "OperationalError: unable to open database file"
        finally:
            ledger.close()


class TestServer:
    def test_not_found(self, server: HealthServer) -> None:
        """Any other path is 404."""
        assert get(server.url + "/")[0] == 404
        assert get(server.url + "/health")[0] == 404

    def test_query_string_ignored(self, server: HealthServer) -> None:
        """A scraper's query string does not turn /metrics into a 404."""
        assert get(server.url + "/metrics?format=text")[0] == 200

    def test_no_io_before_start(self, metrics: Metrics, clock: Clock) -> None:
        """Building a server binds nothing and starts no thread."""
        before = set(threading.enumerate())
        server = HealthServer(metrics, lambda: None, max_age=MAX_AGE, clock=clock, port=0)
        assert server.port == 0
        assert set(threading.enumerate()) == before

    def test_stop_leaves_no_thread(self, metrics: Metrics, clock: Clock) -> None:
        """After requests, stop() ends the serving thread and every request thread."""
        before = set(threading.enumerate())
        server = HealthServer(metrics, lambda: None, max_age=MAX_AGE, clock=clock, port=0)
        server.start()
        assert server.port != 0
        for path in ("/metrics", "/healthz", "/nope"):
            get(server.url + path)
        server.stop()
        assert set(threading.enumerate()) == before
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(server.url + "/healthz", timeout=2)

    def test_restart(self, metrics: Metrics, clock: Clock) -> None:
        """A stopped server can start again, and stop() twice is harmless."""
        server = HealthServer(metrics, lambda: None, max_age=MAX_AGE, clock=clock, port=0)
        server.start()
        server.stop()
        server.stop()
        server.start()
        try:
            assert get(server.url + "/healthz")[0] == 200
        finally:
            server.stop()

    def test_quiet_access_log(
        self, metrics: Metrics, clock: Clock, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Requests are logged at debug through structlog, and nothing goes to stderr."""
        structlog.reset_defaults()  # another test's configure_logging may filter out debug
        server = HealthServer(metrics, lambda: None, max_age=MAX_AGE, clock=clock, port=0)
        try:
            with capture_logs() as logs:
                server.start()
                get(server.url + "/healthz")
                server.stop()
        finally:
            server.stop()
            structlog.reset_defaults()
        requests = [e for e in logs if e["event"] == "health.request"]
        assert len(requests) == 1
        assert requests[0]["log_level"] == "debug"
        assert "GET /healthz" in requests[0]["line"]
        assert capsys.readouterr().err == ""


class TestHealthSettings:
    def test_defaults(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """By default health is served on 0.0.0.0:9108 with 15 minutes' grace; polls every 5m."""
        monkeypatch.chdir(tmp_path)
        settings = Settings()
        assert (settings.health_host, settings.health_port) == ("0.0.0.0", 9108)
        assert settings.health_max_age == timedelta(minutes=15)
        assert settings.poll_interval == timedelta(minutes=5)

    def test_from_environment(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """Durations read like the outbox's; the port takes 0 (any) and off (none)."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ALERTER_HEALTH_MAX_AGE", "20m")
        monkeypatch.setenv("ALERTER_POLL_INTERVAL", "90")
        monkeypatch.setenv("ALERTER_HEALTH_PORT", "0")
        settings = Settings()
        assert settings.health_max_age == timedelta(minutes=20)
        assert settings.poll_interval == timedelta(seconds=90)
        assert settings.health_port == 0
        monkeypatch.setenv("ALERTER_HEALTH_PORT", "off")
        assert Settings().health_port is None

    def test_rejected(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """A business-time age, a zero interval or a port past 65535 is refused."""
        monkeypatch.chdir(tmp_path)
        for name, value in [
            ("ALERTER_HEALTH_MAX_AGE", "1 business hour"),
            ("ALERTER_POLL_INTERVAL", "0"),
            ("ALERTER_HEALTH_PORT", "70000"),
        ]:
            with monkeypatch.context() as patched:
                patched.setenv(name, value)
                with pytest.raises(ValueError, match=name.removeprefix("ALERTER_").lower()):
                    Settings()
