"""One cycle of the service, as a list of steps:

    fetch + evaluate (Salesforce) → decide (ledger view) → record (ledger)
    claim (outbox) → route → render → deliver (Slack, SMTP) → mark (ledger)

``poll`` runs the first line for every rule (or, for a deadline wake-up, for given records);
``send_due`` drains the outbox. They are separate because sending is retried on its own
schedule: a Slack outage delays messages without delaying the next poll, and a message
decided before a crash goes out after the restart with no poll at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog

from alerter.decide import decide
from alerter.delivery.deliver import Notifiers, Outcome, Outgoing, deliver
from alerter.delivery.model import Address, DeliveryError, Message
from alerter.delivery.people import people_of, with_people
from alerter.delivery.recipients import Directory, addresses
from alerter.delivery.render import render
from alerter.delivery.templates import Templates
from alerter.delivery.uses import template_fields
from alerter.episodes import Coverage, Decision, Status
from alerter.evaluate import Evaluation, State
from alerter.ledger.outbox import OutboxItem
from alerter.ledger.store import Ledger
from alerter.rule import Rule
from alerter.settings import Settings
from alerter.source.live import evaluate_live
from alerter.source.salesforce import SalesforceSource

log = structlog.get_logger(__name__)

_DUE = (State.WARNING, State.BREACHED)


@dataclass
class PollReport:
    """What one poll found and decided."""

    evaluated: int = 0
    open_breaches: dict[tuple[str, int], int] = field(default_factory=dict)
    """(rule id, tier) -> records breached at that tier (0: breached, before any tier)."""
    decided: int = 0
    closed: int = 0
    wakeups: dict[str, dict[str, datetime]] = field(default_factory=dict)
    """rule id -> record id -> when its state next changes, for changes before the horizon."""
    api_calls: int = 0
    daily_usage: tuple[int, int] | None = None
    disabled: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SendReport:
    """What one drain of the outbox did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    by_channel: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(channel, kind, status) -> notifications."""
    rate_limited: int = 0


@dataclass(frozen=True)
class Parts:
    """The shell's objects a cycle works with, built once by the app."""

    source: SalesforceSource
    ledger: Ledger
    notifiers: Notifiers
    templates: Templates
    settings: Settings


def poll(
    rules: Sequence[Rule],
    parts: Parts,
    now: datetime,
    *,
    horizon: datetime | None = None,
    ids: Mapping[str, Sequence[str]] | None = None,
    shown: Mapping[str, Iterable[str]] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> PollReport:
    """Evaluate the rules against the org (only the given record ids per rule, for a wake-up),
    decide against the ledger, and record the decision. The org's failures end up in the
    report (the rules read before the failure are still decided on; nothing unread is closed);
    the ledger's raise. ``shown`` (rule id -> the record fields its templates show) is read
    from the templates when not given; the service works it out once per rule load."""
    report = PollReport()
    chosen = [rule for rule in rules if ids is None or ids.get(rule.id)]
    view = parts.ledger.view(now, ids)
    kept: list[Evaluation] = []

    def take(evaluation: Evaluation) -> None:
        report.evaluated += 1
        pair = (evaluation.rule_id, evaluation.record_id)
        if evaluation.state in _DUE or pair in view.episodes:
            kept.append(evaluation)
        if evaluation.state is State.BREACHED:
            key = (evaluation.rule_id, evaluation.tier or 0)
            report.open_breaches[key] = report.open_breaches.get(key, 0) + 1
        change = evaluation.next_change
        if change is not None and (horizon is None or change <= horizon):
            report.wakeups.setdefault(evaluation.rule_id, {})[evaluation.record_id] = change

    if shown is None:
        shown = {rule.id: template_fields(rule, parts.templates) for rule in chosen}
    # A full poll reads every rule in one pass (owners fetched once for all); a wake-up reads
    # each rule's own records.
    passes = [(chosen, [])] if ids is None else [([r], list(ids[r.id])) for r in chosen]
    coverage = Coverage()
    for group, wanted in passes:
        if stop():
            report.error = "stopped before every rule was read"
            break
        start = len(kept)
        passed = evaluate_live(group, parts.source, now, wanted, take, shown)
        report.api_calls += passed.api_calls
        report.daily_usage = passed.daily_usage or report.daily_usage
        report.disabled |= passed.disabled
        if passed.error is not None:
            # The pass stopped part-way, before the owners were read: what it evaluated is
            # left for the next cycle rather than routed without knowing who owns it.
            del kept[start:]
            report.error = passed.error
            break
        kept[start:] = [with_people(e, passed.owners) for e in kept[start:]]
        for rule in group:
            if rule.id not in passed.disabled:
                coverage = _covered(coverage, rule.id, wanted)
    decision = decide(
        kept,
        {rule.id: rule for rule in rules},
        view,
        coverage,
        now,
        budget_per_hour=parts.settings.budget_per_hour,
    )
    parts.ledger.record(decision, now)
    report.decided, report.closed = len(decision.notify), len(decision.close)
    _log_decision(decision)
    return report


def _covered(coverage: Coverage, rule_id: str, ids: Sequence[str]) -> Coverage:
    if not ids:
        return replace(coverage, rules=coverage.rules | {rule_id})
    return replace(coverage, records={**coverage.records, rule_id: frozenset(ids)})


def _log_decision(decision: Decision) -> None:
    for decided in decision.notify:
        n = decided.notification
        log.info(
            "notification.decided",
            rule=n.rule_id,
            record=n.evaluation.record_id,
            kind=str(n.kind),
            tier=n.tier,
            recipient=str(n.recipient),
            channel=n.channel,
            status=str(decided.status),
            reason=decided.reason,
        )
    for closing in decision.close:
        log.info("episode.closed", episode=closing.episode_id, reason=closing.reason)


def send_due(
    rules: Sequence[Rule],
    parts: Parts,
    now: datetime,
    *,
    worker: str,
    limit: int = 50,
    stop: Callable[[], bool] = lambda: False,
) -> SendReport:
    """Send every notification due at ``now``, batch by batch, and mark each sent or failed
    (a retryable failure goes back to the queue with a back-off). ``stop`` is asked between
    batches: at shutdown the batch in hand finishes and the outbox keeps the rest."""
    report = SendReport()
    zones = {rule.id: rule.calendar.zone.key for rule in rules}
    slack = parts.notifiers.slack
    limited = slack.rate_limited if slack else 0
    while not stop():
        batch = parts.ledger.claim(now, worker=worker, limit=limit)
        if not batch:
            break
        outgoing: list[tuple[OutboxItem, Outgoing]] = []
        for item in batch:
            try:
                chain = addresses(item.notification, _directory(item, parts, zones))
            except DeliveryError as error:
                _mark(parts, item, Outcome(error, None), now, report)
                continue
            outgoing.append((item, Outgoing(item.notification, chain, item.items)))
        outcomes = deliver([o for _, o in outgoing], _renderer(parts, now), parts.notifiers)
        for (item, _), outcome in zip(outgoing, outcomes, strict=True):
            _mark(parts, item, outcome, now, report)
        if len(batch) < limit:
            break
    report.rate_limited = (slack.rate_limited if slack else 0) - limited
    return report


def _directory(item: OutboxItem, parts: Parts, zones: Mapping[str, str]) -> Directory:
    slack = parts.settings.slack
    lookup = parts.notifiers.slack.user_id_for_email if parts.notifiers.slack else _nobody
    return Directory(
        lookups=people_of(item.notification.evaluation),
        slack_user_for=lookup,
        queue_channels=slack.queue_channels,
        fallback_channel=slack.fallback_channel,
        rule_time_zones=zones,
    )


def _nobody(email: str) -> str | None:
    return None


def _renderer(parts: Parts, now: datetime) -> Callable[[Outgoing, Address], Message]:
    instance = parts.source.instance_url

    def render_one(item: Outgoing, address: Address) -> Message:
        # The owner is read from the chain the evaluation carries (``people.with_people``).
        return render(
            item.notification,
            address,
            templates=parts.templates,
            instance_url=instance,
            now=now,
            items=item.items,
        )

    return render_one


def _mark(
    parts: Parts, item: OutboxItem, outcome: Outcome, now: datetime, report: SendReport
) -> None:
    n = item.notification
    where = outcome.address
    fields = {
        "notification": item.id,
        "rule": n.rule_id,
        "record": n.evaluation.record_id,
        "kind": str(n.kind),
        "channel": where.channel if where else n.channel,
        "target": where.target if where else None,
        "attempt": item.attempts,
    }
    result = outcome.result
    if isinstance(result, DeliveryError):
        status = parts.ledger.mark_failed(
            item.id,
            error=_with_fallbacks(str(result), outcome),
            code=result.code,
            retryable=result.retryable,
            now=now,
            tried=outcome.tried,
        )
        if status is Status.QUEUED:
            report.retrying += 1
            final = "retrying"
            log.warning("notification.retrying", error=str(result), **fields)
        else:
            report.failed += 1
            final = "failed"
            log.error("notification.failed", error=str(result), code=result.code, **fields)
    else:
        detail = result.detail
        if outcome.fell_back:
            detail = f"{detail}; after {'; '.join(outcome.fell_back)}"
        reason = where.reason if where else ""
        parts.ledger.mark_sent(item.id, detail=f"{reason}: {detail}", now=now, tried=outcome.tried)
        report.sent += 1
        final = "sent"
        log.info("notification.sent", fell_back=list(outcome.fell_back), **fields)
    key = (str(fields["channel"]), str(n.kind), final)
    report.by_channel[key] = report.by_channel.get(key, 0) + 1


def _with_fallbacks(error: str, outcome: Outcome) -> str:
    return "; ".join([*outcome.fell_back, error]) if outcome.fell_back else error
