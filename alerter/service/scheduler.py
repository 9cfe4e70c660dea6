"""APScheduler 3.x, wrapped: the poll, the deadline wake-ups, the outbox drain and the rules
watcher, run one at a time on one worker thread (they share the ledger and the org session).

Every poll learns when each open record next changes state (its warning, deadline or next
tier). The earliest of those before the next poll gets a one-shot wake-up that re-checks just
those records by Id, so a breach is told within seconds of its deadline whatever the poll
interval, for one small query rather than a poll per lead.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from typing import TypeVar

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.blocking import BlockingScheduler

from alerter.service.app import Service, Wakeups

log = structlog.get_logger(__name__)
T = TypeVar("T")

SEND_EVERY = timedelta(seconds=10)
"""How often the outbox is drained between polls: retries after a back-off and messages held
for quiet hours go out within this of becoming due."""
RELOAD_EVERY = timedelta(seconds=2)
RETRY_WAKEUP = timedelta(seconds=30)
"""When a wake-up could not re-check its records (the org was down), try them again this soon."""


class Scheduler:
    """Runs a started :class:`Service` until SIGTERM or SIGINT."""

    def __init__(self, service: Service, *, shutdown_timeout: float = 30.0) -> None:
        self.service = service
        self.shutdown_timeout = shutdown_timeout
        self.pending: Wakeups = {}
        self._busy = threading.Lock()
        self._reload_requested = threading.Event()
        self._scheduler: BlockingScheduler | None = None

    def run(self) -> None:
        """Block, running the jobs, until a stop signal; then let the running job finish (it
        stops between batches) and return."""
        interval = self.service.settings.poll_interval
        scheduler = BlockingScheduler(
            timezone="UTC",
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={
                "coalesce": True,  # after a stall, one run, not a burst of missed ones
                "max_instances": 1,
                # The default grace of 1 s silently skips a job that starts late; a poll late
                # by less than its own interval is still worth running.
                "misfire_grace_time": max(int(interval.total_seconds()), 1),
            },
        )
        self._scheduler = scheduler
        now = self.service.clock()
        scheduler.add_job(
            self._poll, "interval", seconds=interval.total_seconds(), id="poll", next_run_time=now
        )
        scheduler.add_job(self._send, "interval", seconds=SEND_EVERY.total_seconds(), id="send")
        scheduler.add_job(
            self._reload, "interval", seconds=RELOAD_EVERY.total_seconds(), id="reload"
        )
        self._sync_rule_polls()
        previous = {
            sig: signal.signal(sig, self._on_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        previous_hup = signal.signal(signal.SIGHUP, self._on_hangup)
        try:
            scheduler.start()  # blocks until shutdown
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.signal(signal.SIGHUP, previous_hup)
        if self._busy.acquire(timeout=self.shutdown_timeout):
            self._busy.release()
        else:
            log.warning("service.shutdown_timeout", seconds=self.shutdown_timeout)

    def stop(self) -> None:
        """Stop after the running job (callable from any thread or a signal handler)."""
        self.service.stopping.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    # -- signals ----------------------------------------------------------------------------

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("service.stopping", signal=signal.Signals(signum).name)
        self.stop()

    def _on_hangup(self, signum: int, frame: FrameType | None) -> None:
        log.info("rules.reload_requested", signal="SIGHUP")
        self._reload_requested.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.modify_job("reload", next_run_time=self.service.clock())

    # -- jobs -------------------------------------------------------------------------------

    def _poll(self, only: frozenset[str] | None = None) -> None:
        result = self._guarded("poll", lambda: self.service.cycle(only))
        if result is not None and result.poll.ok:
            if only is None:
                self.pending = result.poll.wakeups
            else:
                for rule in only:
                    self.pending[rule] = result.poll.wakeups.get(rule, {})
        self._schedule_wakeup()

    def _sync_rule_polls(self) -> None:
        """One extra poll job per interval shorter than the service's that rules ask for
        (``poll_every``), polling just those rules; stale ones removed."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        interval = self.service.settings.poll_interval
        wanted: dict[timedelta, set[str]] = {}
        for rule in self.service.rules.rules:
            if rule.poll_every is not None and rule.poll_every.amount < interval:
                wanted.setdefault(rule.poll_every.amount, set()).add(rule.id)
        jobs = {f"poll-{every.total_seconds():g}s": (every, ids) for every, ids in wanted.items()}
        for job in scheduler.get_jobs():
            if job.id.startswith("poll-") and job.id not in jobs:
                job.remove()
        for job_id, (every, rules) in jobs.items():
            scheduler.add_job(
                self._poll,
                "interval",
                seconds=every.total_seconds(),
                args=[frozenset(rules)],
                id=job_id,
                replace_existing=True,
            )

    def _wake(self) -> None:
        now = self.service.clock()
        due = {
            rule: sorted(record for record, at in records.items() if at <= now)
            for rule, records in self.pending.items()
        }
        due = {rule: ids for rule, ids in due.items() if ids}
        if not due:
            self._schedule_wakeup()
            return
        for rule, ids in due.items():
            for record in ids:
                del self.pending[rule][record]
        result = self._guarded("wakeup", lambda: self.service.wake(due))
        if result is not None and result.poll.ok:
            for rule, records in result.poll.wakeups.items():
                self.pending.setdefault(rule, {}).update(records)
        else:
            retry = now + RETRY_WAKEUP
            for rule, ids in due.items():
                self.pending.setdefault(rule, {}).update(dict.fromkeys(ids, retry))
        self._schedule_wakeup()

    def _send(self) -> None:
        self._guarded("send", self.service.send)

    def _reload(self) -> None:
        force = self._reload_requested.is_set()
        self._reload_requested.clear()
        if self._guarded("reload", lambda: self.service.reload(force=force)):
            self._sync_rule_polls()

    def _schedule_wakeup(self) -> None:
        """One date job at the earliest pending change (none when nothing is pending)."""
        scheduler = self._scheduler
        if scheduler is None or self.service.stopping.is_set():
            return
        earliest: datetime | None = min(
            (at for records in self.pending.values() for at in records.values()), default=None
        )
        if earliest is None:
            with contextlib.suppress(JobLookupError):
                scheduler.remove_job("wake")
            return
        scheduler.add_job(self._wake, "date", run_date=earliest, id="wake", replace_existing=True)
        log.debug("wakeup.scheduled", at=earliest.isoformat())

    def _guarded(self, job: str, run: Callable[[], T]) -> T | None:
        """Run a job so that nothing it raises stops the scheduler: log it and go on."""
        if self.service.stopping.is_set():
            return None
        with self._busy:
            try:
                return run()
            except Exception:
                log.exception("job.failed", job=job)
                return None
