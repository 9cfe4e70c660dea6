"""The service's object graph, built in one place, and the jobs the scheduler runs.

Nothing here reads the wall clock but through ``clock``, and nothing does I/O before
``start()``: the constructor only keeps the settings. ``start`` connects what must work for the
service to make sense (the ledger, a way to deliver) and fails with a one-line reason when it
cannot; Salesforce may be down at start, and the next poll simply tries again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from alerter.delivery.deliver import Notifiers
from alerter.delivery.email import EmailNotifier
from alerter.delivery.render import check_templates
from alerter.delivery.slack import SlackNotifier, load_user_map
from alerter.delivery.templates import Templates
from alerter.delivery.uses import template_fields
from alerter.errors import ConfigurationError, SourceError, one_line
from alerter.ledger.engine import LedgerUnavailable
from alerter.ledger.store import Ledger
from alerter.loader import RuleSet, load_rules
from alerter.rule import Rule
from alerter.service.cycle import Parts, PollReport, SendReport, poll, send_due
from alerter.service.health import HealthServer, ping_ledger
from alerter.service.metrics import Metrics
from alerter.settings import Settings
from alerter.source.salesforce import SalesforceSource

log = structlog.get_logger(__name__)

Wakeups = dict[str, dict[str, datetime]]
"""rule id -> record id -> when its state next changes."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CycleResult:
    """A poll (full or targeted) and the send that followed it."""

    poll: PollReport
    send: SendReport
    seconds: float


class Service:
    """alerter's running parts. ``start()``, then the jobs: ``cycle()`` (a full poll),
    ``wake(ids)`` (re-check records at a deadline), ``send()`` (drain the outbox), ``reload()``;
    ``stop()`` at the end."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
        worker: str | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.worker = worker or f"alerter-{uuid.uuid4().hex[:8]}"
        self.metrics = Metrics()
        self.stopping = threading.Event()
        self.rules = RuleSet()
        self._parts: Parts | None = None
        self._health: HealthServer | None = None
        self._source_ready = False
        self._rules_fingerprint: tuple[tuple[str, float, int], ...] = ()
        self._shown: dict[str, frozenset[str]] = {}
        """Rule id -> the record fields its templates show (parsing them costs ~10 ms a rule:
        done at each load, not at each poll and wake-up)."""

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Load rules, connect the ledger and notifiers, start health; raises
        ConfigurationError with a one-line reason when the service cannot run."""
        settings = self.settings
        if not self.reload(first=True):
            raise ConfigurationError(f"no valid rules in {settings.rules_dir}")
        notifiers = Notifiers(
            SlackNotifier(settings.slack) if settings.slack.token else None,
            EmailNotifier(settings.smtp) if settings.smtp.host else None,
        )
        if notifiers.slack is None and notifiers.email is None:
            raise ConfigurationError(
                "no way to deliver: set ALERTER_SLACK__TOKEN or ALERTER_SMTP__HOST"
            )
        if notifiers.slack is not None and settings.slack.user_map_file is not None:
            load_user_map(settings.slack.user_map_file)  # a broken map stops the start, not a send
        try:
            ledger = Ledger.connect(settings.state_url, outbox=settings.outbox)
        except LedgerUnavailable as exc:
            raise ConfigurationError(str(exc)) from None
        source = SalesforceSource(settings.salesforce)
        self._parts = Parts(source, ledger, notifiers, Templates(settings.templates_dir), settings)
        self._connect_source()
        if settings.health_port is not None:
            self._health = HealthServer(
                self.metrics,
                ledger_check=lambda: ping_ledger(ledger),
                max_age=settings.health_max_age,
                clock=self.clock,
                host=settings.health_host,
                port=settings.health_port,
            )
            self._health.start()
            log.info("health.listening", url=self._health.url)
        log.info(
            "service.started",
            worker=self.worker,
            rules=len(self.rules.rules),
            ledger=ledger.url,
            poll_interval=str(settings.poll_interval),
        )

    def stop(self) -> None:
        """Stop serving health and close the ledger (the scheduler has stopped the jobs)."""
        self.stopping.set()
        if self._health is not None:
            self._health.stop()
        if self._parts is not None:
            self._parts.ledger.close()
        log.info("service.stopped", worker=self.worker)

    @property
    def parts(self) -> Parts:
        if self._parts is None:
            raise RuntimeError("the service is not started")
        return self._parts

    # -- jobs -------------------------------------------------------------------------------

    def cycle(self, only: Collection[str] | None = None) -> CycleResult:
        """A full poll of every rule (or of the rules ``only`` names), then send what is due."""
        return self._run(None, only)

    def wake(self, ids: Mapping[str, Sequence[str]]) -> CycleResult:
        """Re-check the given records (rule id -> record ids) at their deadline, then send."""
        self.metrics.wakeup()
        return self._run(ids, None)

    def send(self) -> SendReport:
        """Send whatever the outbox holds that is due (retries, held messages), after taking
        back what a crashed sender (this one before a restart, or another replica) claimed
        and never marked: those go out again, at most once more."""
        recovered = self.parts.ledger.recover(self.clock())
        if recovered:
            log.warning("outbox.recovered", notifications=len(recovered))
        report = send_due(
            self.rules.rules,
            self.parts,
            self.clock(),
            worker=self.worker,
            stop=self.stopping.is_set,
        )
        self._observe_send(report)
        return report

    def reload(self, *, first: bool = False, force: bool = False) -> bool:
        """Load the rules and check their templates when their files changed (or ``force``);
        keep the previous rules when the new ones have errors, and say so. Returns whether
        rules were (re)loaded."""
        settings = self.settings
        fingerprint = _fingerprint([settings.rules_dir, settings.templates_dir])
        if not (first or force) and fingerprint == self._rules_fingerprint:
            return False
        self._rules_fingerprint = fingerprint
        ruleset = load_rules([settings.rules_dir])
        errors = [*ruleset.errors, *check_templates(ruleset, settings.templates_dir)]
        self.metrics.set_rule_errors(len(errors))
        for error in errors:
            log.error("rules.error", error=str(error))
        if errors and not first:
            log.error("rules.reload_refused", errors=len(errors), kept=len(self.rules.rules))
            return False
        if not ruleset.rules:
            return False
        self.rules = ruleset
        templates = Templates(settings.templates_dir)
        self._shown = {rule.id: template_fields(rule, templates) for rule in ruleset.rules}
        log.info("rules.loaded", rules=[rule.id for rule in ruleset.rules], errors=len(errors))
        return True

    # -- the steps --------------------------------------------------------------------------

    def _run(
        self, ids: Mapping[str, Sequence[str]] | None, only: Collection[str] | None
    ) -> CycleResult:
        run_id = uuid.uuid4().hex[:12]
        started = time.monotonic()
        now = self.clock()
        with structlog.contextvars.bound_contextvars(run_id=run_id):
            rules = [r for r in self.rules.rules if only is None or r.id in only]
            report = self._poll(rules, now, ids)
            try:
                sent = self.send()
            except Exception as exc:  # the ledger went away: say so, the next run tries again
                log.exception("send.failed", error=one_line(exc))
                sent = SendReport()
            seconds = time.monotonic() - started
            full = ids is None and only is None
            self.metrics.observe_poll(report, seconds, full=full, now=now)
            event = "cycle" if ids is None else "wakeup"
            (log.info if report.ok else log.error)(
                event,
                ok=report.ok,
                error=report.error,
                evaluated=report.evaluated,
                decided=report.decided,
                closed=report.closed,
                sent=sent.sent,
                retrying=sent.retrying,
                failed=sent.failed,
                api_calls=report.api_calls,
                disabled=sorted(report.disabled),
                seconds=round(seconds, 3),
            )
        return CycleResult(report, sent, seconds)

    def _poll(
        self, rules: Sequence[Rule], now: datetime, ids: Mapping[str, Sequence[str]] | None
    ) -> PollReport:
        if not self._connect_source():
            return PollReport(error="Salesforce is unreachable")
        try:
            return poll(
                rules,
                self.parts,
                now,
                horizon=now + self.settings.poll_interval,
                ids=ids,
                shown=self._shown,
                stop=self.stopping.is_set,
            )
        except Exception as exc:  # the ledger (or a bug) failed the poll: a failed cycle
            log.exception("poll.failed", error=one_line(exc))
            return PollReport(error=one_line(exc))

    def _observe_send(self, report: SendReport) -> None:
        self.metrics.observe_send(report)
        count, oldest = self.parts.ledger.outbox_depth(self.clock())
        self.metrics.set_outbox(count, oldest)

    def _connect_source(self) -> bool:
        if self._source_ready:
            return True
        try:
            self.parts.source.connect()
        except SourceError as exc:
            log.error("salesforce.unreachable", error=str(exc))
            return False
        self._source_ready = True
        return True


def _fingerprint(folders: Sequence[Path]) -> tuple[tuple[str, float, int], ...]:
    """Names, modification times and sizes of every file under the folders: a cheap way to
    notice an edit without a file-watching dependency."""
    found: list[tuple[str, float, int]] = []
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_file():
                stat = path.stat()
                found.append((str(path), stat.st_mtime, stat.st_size))
    return tuple(found)
