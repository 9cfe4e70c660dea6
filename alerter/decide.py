"""The decide step: from this cycle's evaluations and the ledger's memory, what to send, hold,
fold, release or cancel, and which breach stories (episodes) open and close.

    evaluations + rules + LedgerView + Coverage + now --decide--> Decision

Pure, like Alertmanager's ``needsUpdate``: no clock reads, no I/O, no settings; the budget is
handed in. Deciding twice on the same inputs gives the same Decision, and a key already in an
episode's notifications is never decided again, whatever became of it: the ledger's unique
constraint is the last guard, not the first.

What an episode is told, in order:

- a **warning** (tier 0) once, while the record is in warning and the rule has ``warning:``;
- **tier 1** (kind breach) at the deadline, **tiers 2+** (kind escalation) as they come due:
  every tier reached and not yet decided;
- **repeats** of a tier with ``repeat_every``: repeat n is due at tier time + n x interval (in
  business time when the interval is); after downtime only the latest due one is sent, and
  none is due until an interval has passed since the tier's previous message;
- a **resolved** message, when the rule asks, to each (recipient, channel) a breach message
  went to (sent, or being sent), when the episode closes.

Each is then silenced (a silence covers it), held for quiet hours (``not_before``), and counted
against the recipient's hourly budget (``budget``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerter.budget import apply_budget, budget_key
from alerter.clock import moment_text
from alerter.delivery.model import Channel, Kind, Notification
from alerter.durations import Duration
from alerter.episodes import (
    Closing,
    Coverage,
    Decided,
    Decision,
    EpisodeKey,
    LedgerView,
    NotificationKey,
    OpenEpisode,
    PastNotification,
    Silence,
    Status,
)
from alerter.evaluate import Evaluation, State
from alerter.quiet import held_text, hold_until, quiet_zone
from alerter.rule import Notify, Recipient, Rule

HOLDING = (State.WARNING, State.BREACHED)
"""States in which an episode is open and may be told something."""
TOLD = (Status.SENT, Status.SENDING)
"""A message that went out (or may have): its recipient hears when the breach is resolved.
A queued one is cancelled when its episode closes, so its recipient never heard of it."""
BREACH_KINDS = (Kind.BREACH, Kind.ESCALATION, Kind.REPEAT)
PENDING = (Status.QUEUED, Status.SILENCED)
LEFT_THE_RULE = "left the rule (no longer in scope, or deleted)"

Group = tuple[int, str, str]
"""(tier, recipient, channel): the messages that repeat one another."""


@dataclass(frozen=True)
class _Candidate:
    """A notification due now, before silences, quiet hours and the budget have their say."""

    due_at: datetime
    key: NotificationKey
    notify_template: str
    recipient: Recipient
    reason: str


@dataclass
class _Plan:
    """What one cycle has decided so far (``decide``'s scratchpad)."""

    opened: list[tuple[EpisodeKey, Evaluation]] = field(default_factory=list)
    updated: list[tuple[int, Evaluation]] = field(default_factory=list)
    candidates: list[tuple[datetime, Decided]] = field(default_factory=list)
    close: list[Closing] = field(default_factory=list)
    release: list[int] = field(default_factory=list)
    cancel: list[int] = field(default_factory=list)


def decide(
    evaluations: Iterable[Evaluation],
    rules: Mapping[str, Rule],
    view: LedgerView,
    coverage: Coverage,
    now: datetime,
    *,
    budget_per_hour: int,
) -> Decision:
    """Decide one cycle. ``rules`` maps rule ids to rules (an evaluation of an unknown rule is
    ignored); ``coverage`` says which records were looked at, so an open episode whose record
    was looked at and not found is closed, and one that was not looked at is left alone."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if budget_per_hour < 1:
        raise ValueError("budget_per_hour must be at least 1")
    latest: dict[tuple[str, str], Evaluation] = {}
    for evaluation in evaluations:
        if evaluation.rule_id in rules:
            latest[(evaluation.rule_id, evaluation.record_id)] = evaluation
    plan = _Plan()
    for pair, evaluation in sorted(latest.items()):
        _decide_record(plan, rules[pair[0]], evaluation, view.episodes.get(pair), view, now)
    for pair, episode in sorted(view.episodes.items()):
        if pair not in latest and coverage.looked_at(*pair):
            _close(plan, rules.get(pair[0]), episode, None, LEFT_THE_RULE, view, now)
    return Decision(
        opened=tuple(plan.opened),
        updated=tuple(plan.updated),
        notify=tuple(apply_budget(plan.candidates, view.recent, budget_per_hour)),
        close=tuple(plan.close),
        release=tuple(plan.release),
        cancel=tuple(plan.cancel),
    )


def _decide_record(
    plan: _Plan,
    rule: Rule,
    evaluation: Evaluation,
    episode: OpenEpisode | None,
    view: LedgerView,
    now: datetime,
) -> None:
    state = evaluation.state
    if episode is not None and state is State.NO_CLOCK:
        _close(plan, rule, episode, None, evaluation.explanation, view, now)
        return
    if episode is not None and evaluation.clock_start != episode.key.clock_start:
        started = _local(evaluation.clock_start, rule.calendar.zone)
        _close(plan, rule, episode, None, f"clock restarted at {started}", view, now)
        episode = None
    elif episode is not None and state is State.STOPPED:
        _close(plan, rule, episode, evaluation, _touched(evaluation), view, now)
        return
    if state not in HOLDING or evaluation.clock_start is None:
        return
    if episode is None:
        key = EpisodeKey(rule.id, evaluation.object, evaluation.record_id, evaluation.clock_start)
        plan.opened.append((key, evaluation))
        past: tuple[PastNotification, ...] = ()
    else:
        key, past = episode.key, episode.notifications
    silence = _silence_for(evaluation, view.silences, now)
    fresh: set[Group] = set()
    for candidate in _due(rule, evaluation, past, now):
        k = candidate.key
        fresh.add((k.tier, k.recipient, k.channel))
        decided = _decided(rule, key, evaluation, candidate, silence, now)
        plan.candidates.append((candidate.due_at, decided))
    if episode is None:
        return
    if fresh:
        plan.updated.append((episode.id, evaluation))
    if state is State.BREACHED:
        # A warning still waiting (held for quiet hours) would say "due in 10 min" of a lead
        # already overdue: the breach message replaces it.
        plan.cancel += [
            p.id for p in past if p.key.kind is Kind.WARNING and p.status is Status.QUEUED
        ]
    if silence is None and hold_until(rule, evaluation, now) is None:
        # A silence that ended during quiet hours releases at the next opening, not at 2 a.m.
        _release(plan, past, fresh, breached=state is State.BREACHED)


def _due(
    rule: Rule, evaluation: Evaluation, past: tuple[PastNotification, ...], now: datetime
) -> Iterator[_Candidate]:
    """Every notification due for an episode in warning or breach and not yet decided."""
    existing = {p.key for p in past}
    due, calendar, zone = evaluation.due, rule.calendar, rule.calendar.zone
    if due is None:
        return
    if evaluation.state is State.WARNING and rule.warning is not None:
        warn_at = calendar.shift(due, -rule.warning.before)
        reason = f"warning: due {_local(due, zone)}"
        for recipient, channel in _pairs(rule.warning):
            key = NotificationKey(Kind.WARNING, 0, str(recipient), channel)
            if key not in existing:
                yield _Candidate(warn_at, key, rule.warning.template, recipient, reason)
    if evaluation.state is not State.BREACHED or not evaluation.tier:
        return
    for number, tier in enumerate(rule.escalation[: evaluation.tier], 1):
        at = calendar.shift(due, tier.after)
        kind = Kind.BREACH if number == 1 else Kind.ESCALATION
        reason = f"{kind}: tier {number}, " + (
            f"{tier.after} past the deadline" if tier.after.amount else "at the deadline"
        )
        decided_now: set[tuple[str, str]] = set()
        for recipient, channel in _pairs(tier):
            key = NotificationKey(kind, number, str(recipient), channel)
            if key not in existing:
                decided_now.add((str(recipient), channel))
                yield _Candidate(at, key, tier.template, recipient, reason)
        if tier.repeat_every is None or tier.repeat_every.amount <= timedelta(0):
            continue
        every = tier.repeat_every
        count = calendar.measure(at, now, every.business) // every.amount
        if count < 1:
            continue
        repeat_at = calendar.shift(at, Duration(every.amount * count, every.business))
        reason = f"repeat {count} of tier {number}, every {every}"
        for recipient, channel in _pairs(tier):
            if (str(recipient), channel) in decided_now:
                continue  # its first message goes now: a repeat on top would be a burst
            last = _last_decided(past, number, str(recipient), channel)
            key = NotificationKey(Kind.REPEAT, number, str(recipient), channel, count)
            # Coalesce: only the latest due repeat, only if nothing of this tier went to them
            # since it came due (no burst after downtime, none twice), and never sooner than
            # an interval after the last message (a record first seen late is not repeated
            # minutes after its first nudge).
            recent = last is not None and (last >= repeat_at or calendar.shift(last, every) > now)
            if key not in existing and not recent:
                yield _Candidate(repeat_at, key, tier.template, recipient, reason)


def _decided(
    rule: Rule,
    episode: EpisodeKey,
    evaluation: Evaluation,
    candidate: _Candidate,
    silence: Silence | None,
    now: datetime,
) -> Decided:
    """A candidate with its status, hold and reason (silence first, then quiet hours)."""
    key = candidate.key
    tier = key.tier if key.kind in BREACH_KINDS else None
    notification = Notification(
        key.kind,
        rule.id,
        rule.title,
        evaluation,
        candidate.recipient,
        key.channel,
        candidate.notify_template,
        tier,
    )
    reason, status, not_before = candidate.reason, Status.QUEUED, now
    hold = hold_until(rule, evaluation, now)
    if silence is not None:
        status = Status.SILENCED
        ends = _local(silence.ends_at, rule.calendar.zone)
        reason += f"; silenced until {ends} by silence {silence.id}: {silence.reason}"
    if hold is not None:
        not_before = hold
        reason += f"; {held_text(hold, quiet_zone(rule, evaluation))}"
    return Decided(
        episode=episode,
        key=key,
        notification=notification,
        status=status,
        not_before=not_before,
        budget_key=budget_key(candidate.recipient, evaluation),
        reason=reason,
    )


def _close(
    plan: _Plan,
    rule: Rule | None,
    episode: OpenEpisode,
    stopped: Evaluation | None,
    reason: str,
    view: LedgerView,
    now: datetime,
) -> None:
    """Close an episode: cancel what it still holds back, and tell who heard of the breach
    that it is over, when the rule asks (``resolved:``)."""
    plan.close.append(Closing(episode.id, reason))
    plan.cancel += [p.id for p in episode.notifications if p.status in PENDING]
    if rule is None or rule.resolved is None:
        return
    told = sorted(
        {
            (p.key.recipient, p.key.channel)
            for p in episode.notifications
            if p.key.kind in BREACH_KINDS and p.status in TOLD
        }
    )
    evaluation = stopped or episode.evaluation
    silence = _silence_for(evaluation, view.silences, now)
    for recipient, channel in told:
        key = NotificationKey(Kind.RESOLVED, 0, recipient, channel)
        candidate = _Candidate(
            now, key, rule.resolved.template, recipient_of(recipient), f"resolved: {reason}"
        )
        decided = _decided(rule, episode.key, evaluation, candidate, silence, now)
        plan.candidates.append((now, decided))


def _release(
    plan: _Plan, past: tuple[PastNotification, ...], fresh: set[Group], *, breached: bool
) -> None:
    """The silence of a still-open episode ended: release its silenced notifications, but only
    the latest of each (tier, recipient, channel), so a long silence does not end in a burst of
    repeats; the older ones, a warning overtaken by the breach, and those a message decided now
    supersedes, are cancelled."""
    groups: dict[Group, list[PastNotification]] = {}
    for p in past:
        if p.status is Status.SILENCED:
            groups.setdefault((p.key.tier, p.key.recipient, p.key.channel), []).append(p)
    for group, items in sorted(groups.items()):
        items.sort(key=lambda p: (p.decided_at, p.key.sequence, p.id))
        stale = group in fresh or (group[0] == 0 and breached)
        keep = [] if stale else items[-1:]
        plan.release += [p.id for p in keep]
        plan.cancel += [p.id for p in items if p not in keep]


def _silence_for(
    evaluation: Evaluation, silences: Iterable[Silence], now: datetime
) -> Silence | None:
    """The silence that holds the evaluation's notifications now (the longest, if several)."""
    covering = [s for s in silences if s.covers(evaluation, now)]
    return max(covering, key=lambda s: (s.ends_at, -s.id), default=None)


def _last_decided(
    past: tuple[PastNotification, ...], tier: int, recipient: str, channel: str
) -> datetime | None:
    """When this tier last told (or will tell) this recipient on this channel anything: a
    message held for quiet hours counts from when it goes."""
    times = [
        max(p.decided_at, p.not_before)
        for p in past
        if p.key.kind in BREACH_KINDS
        and (p.key.tier, p.key.recipient, p.key.channel) == (tier, recipient, channel)
    ]
    return max(times, default=None)


def _pairs(notify: Notify) -> Iterator[tuple[Recipient, Channel]]:
    """One notification per (recipient, channel) the rule names; a Slack channel only once,
    on Slack, whatever ``via`` says: it has no mailbox, and its email notification would be
    routed to the same channel, posting the message twice."""
    for recipient in notify.to:
        if recipient.kind == "channel":
            yield recipient, "slack"
            continue
        for channel in notify.via:
            yield recipient, channel


def recipient_of(text: str) -> Recipient:
    """The recipient a notification key names (``str(Recipient)`` read back)."""
    if text in ("owner", "manager", "skip_level_manager"):
        return Recipient(text)  # type: ignore[arg-type]
    if text.startswith("#"):
        return Recipient("channel", text)
    return Recipient("email", text)


def _touched(evaluation: Evaluation) -> str:
    """``touched: Task 'Call' at ...``, from a stopped evaluation's explanation."""
    _, found, touch = evaluation.explanation.rpartition("; touched: ")
    return f"touched: {touch}" if found else "touched"


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "an unknown time"
    return moment_text(moment, zone)
