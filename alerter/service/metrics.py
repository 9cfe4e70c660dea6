"""The service's Prometheus metrics, fed from the figures of each cycle.

:class:`Metrics` owns its own registry rather than the process-wide default: tests build many
services in one process, and a second registration of a name in the global registry fails.
It only turns plain values and the cycle's reports into samples; it never reads the clock or
the ledger itself, so the shell decides when a figure is taken.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from alerter.service.cycle import PollReport, SendReport

_CYCLE_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, float("inf"))
"""Seconds: a poll is one query per rule, so seconds to a few minutes on a large org."""


class Metrics:
    """Every ``alerter_*`` metric, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.last_success: datetime | None = None
        """When the last poll that went through ended (``None`` before the first)."""
        self._breach_labels: set[tuple[str, str]] = set()
        r = self.registry
        self._cycles = Counter("alerter_cycles", "Polls run, by outcome.", ["outcome"], registry=r)
        for outcome in ("ok", "failed"):
            self._cycles.labels(outcome=outcome)
        self._cycle_seconds = Histogram(
            "alerter_cycle_duration_seconds",
            "How long a poll took, ok or failed.",
            buckets=_CYCLE_BUCKETS,
            registry=r,
        )
        # A gauge and a counter cannot share the family alerter_records_evaluated (the
        # exposition format names a family once), so the gauge says which poll it counts.
        self._evaluated = Gauge(
            "alerter_records_evaluated_last_poll",
            "Records the last full poll that went through evaluated.",
            registry=r,
        )
        self._evaluated_total = Counter(
            "alerter_records_evaluated", "Records evaluated by every poll.", registry=r
        )
        self._open_breaches = Gauge(
            "alerter_open_breaches",
            "Records breached at the last full poll, by rule and tier (0: before any tier).",
            ["rule", "tier"],
            registry=r,
        )
        self._notifications = Counter(
            "alerter_notifications",
            "Notifications handled by the outbox, by channel, kind and status.",
            ["channel", "kind", "status"],
            registry=r,
        )
        self._api_calls = Counter(
            "alerter_salesforce_api_calls", "Salesforce API calls made.", registry=r
        )
        self._api_remaining = Gauge(
            "alerter_salesforce_daily_api_remaining",
            "The org's remaining daily API allowance, as the last response reported it.",
            registry=r,
        )
        # Unknown until a poll reports it: NaN, not 0, which would read as an exhausted org.
        self._api_remaining.set(float("nan"))
        self._rate_limited = Counter(
            "alerter_slack_rate_limited", "Slack sends answered with HTTP 429.", registry=r
        )
        self._outbox_depth = Gauge(
            "alerter_outbox_depth", "Due notifications waiting to be sent.", registry=r
        )
        self._outbox_age = Gauge(
            "alerter_outbox_oldest_age_seconds",
            "How long the oldest due notification has waited (0 when none waits).",
            registry=r,
        )
        self._rule_errors = Gauge(
            "alerter_rule_errors",
            "Rule files that failed the last (re)load and are not running.",
            registry=r,
        )
        self._last_success = Gauge(
            "alerter_last_success_timestamp_seconds",
            "Unix time the last poll that went through ended (0 before the first).",
            registry=r,
        )
        self._wakeups = Counter(
            "alerter_wakeups",
            "Deadline wake-ups run: polls of a few records at the moment their state changes.",
            registry=r,
        )

    def observe_poll(
        self, report: PollReport, seconds: float, *, full: bool, now: datetime
    ) -> None:
        """Take one poll's figures, ``now`` being when it ended. Only a full poll that went
        through says what is open across all rules: a wake-up sees a few records, and a failed
        poll stopped part-way, so both leave the breach and evaluated gauges as they were."""
        self._cycles.labels(outcome="ok" if report.ok else "failed").inc()
        self._cycle_seconds.observe(seconds)
        self._evaluated_total.inc(report.evaluated)
        self._api_calls.inc(report.api_calls)
        if report.daily_usage is not None:
            used, most = report.daily_usage
            self._api_remaining.set(most - used)
        if not report.ok:
            return
        self.last_success = now
        self._last_success.set(now.timestamp())
        if full:
            self._evaluated.set(report.evaluated)
            self._set_breaches(report.open_breaches)

    def _set_breaches(self, counts: dict[tuple[str, int], int]) -> None:
        # Set the new series before removing the old, so a scrape in between never sees a
        # breach that is still open vanish; a resolved one then disappears rather than read 0.
        labels = {(rule, str(tier)): n for (rule, tier), n in counts.items()}
        for (rule, tier), n in labels.items():
            self._open_breaches.labels(rule=rule, tier=tier).set(n)
        for rule, tier in self._breach_labels - labels.keys():
            self._open_breaches.remove(rule, tier)
        self._breach_labels = set(labels)

    def observe_send(self, report: SendReport) -> None:
        """Take one drain of the outbox."""
        for (channel, kind, status), n in report.by_channel.items():
            self._notifications.labels(channel=channel, kind=kind, status=status).inc(n)
        self._rate_limited.inc(report.rate_limited)

    def set_outbox(self, count: int, oldest: timedelta | None) -> None:
        """Take :meth:`Ledger.outbox_depth`'s answer."""
        self._outbox_depth.set(count)
        self._outbox_age.set(oldest.total_seconds() if oldest is not None else 0)

    def set_rule_errors(self, count: int) -> None:
        """Rule files that failed the last (re)load."""
        self._rule_errors.set(count)

    def wakeup(self) -> None:
        """Count one deadline wake-up (its poll is observed with ``full=False``)."""
        self._wakeups.inc()
