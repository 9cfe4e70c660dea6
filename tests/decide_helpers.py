"""Builders for the decide tests: run ``decide`` on real evaluations of small snapshots, build
ledger views by hand, and replay cycles through the in-memory ledger (``alerter.memory``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from helpers import history, lead, snapshot

from alerter.decide import decide
from alerter.delivery.model import Kind
from alerter.episodes import (
    Coverage,
    Decision,
    EpisodeKey,
    LedgerView,
    NotificationKey,
    OpenEpisode,
    PastNotification,
    Silence,
    Status,
)
from alerter.evaluate import Evaluation, evaluate
from alerter.memory import apply, mark_sent
from alerter.records import Snapshot
from alerter.rule import Rule

LEAD = "00Q000000000001"
KeyTuple = tuple[str, int, str, str, int]


def covering(rule: Rule) -> Coverage:
    """The rule was read whole."""
    return Coverage(rules=frozenset({rule.id}))


def run(
    rule: Rule,
    data: Snapshot,
    now: datetime,
    view: LedgerView | None = None,
    *,
    coverage: Coverage | None = None,
    budget: int = 10,
    evaluations: Iterable[Evaluation] | None = None,
) -> Decision:
    """``decide`` on the rule's evaluations of ``data`` at ``now``."""
    found = evaluate([rule], data, now) if evaluations is None else evaluations
    return decide(
        found,
        {rule.id: rule},
        view or LedgerView(),
        covering(rule) if coverage is None else coverage,
        now,
        budget_per_hour=budget,
    )


def keys(decision: Decision) -> list[KeyTuple]:
    """The decided notifications as (kind, tier, recipient, channel, sequence)."""
    return [
        (str(d.key.kind), d.key.tier, d.key.recipient, d.key.channel, d.key.sequence)
        for d in decision.notify
    ]


def cycles(
    rule: Rule, data: Snapshot, moments: Iterable[datetime], view: LedgerView | None = None
) -> tuple[LedgerView, list[Decision]]:
    """Run one cycle per moment, feeding each decision back through the in-memory ledger and
    sending whatever is due (a perfect deliver step)."""
    view = view or LedgerView()
    decisions = []
    for now in moments:
        decision = run(rule, data, now, view, budget=1000)
        view = mark_sent(apply(view, decision, now), now)
        decisions.append(decision)
    return view, decisions


def episode(
    evaluation: Evaluation, *notifications: PastNotification, episode_id: int = 1
) -> OpenEpisode:
    """An open episode of ``evaluation``'s record, opened at its clock start."""
    assert evaluation.clock_start is not None
    key = EpisodeKey(
        evaluation.rule_id, evaluation.object, evaluation.record_id, evaluation.clock_start
    )
    return OpenEpisode(
        episode_id, key, evaluation.owner_id, evaluation.clock_start, evaluation, notifications
    )


def past(
    notification_id: int,
    kind: Kind,
    tier: int,
    recipient: str,
    channel: Any,
    at: datetime,
    status: Status = Status.SENT,
    sequence: int = 0,
    not_before: datetime | None = None,
) -> PastNotification:
    """A notification the ledger holds."""
    key = NotificationKey(kind, tier, recipient, channel, sequence)
    return PastNotification(notification_id, key, status, at, not_before or at)


def view_of(*episodes: OpenEpisode, silences: Iterable[Silence] = ()) -> LedgerView:
    """A view holding these open episodes."""
    return LedgerView(
        episodes={(e.key.rule_id, e.key.record_id): e for e in episodes},
        silences=tuple(silences),
    )


def leads(count: int, at: str, **fields: Any) -> Snapshot:
    """``count`` MQL leads of one rep, all MQL at ``at``: Ids ...01, ...02, ..."""
    ids = [f"00Q0000000000{n:02d}" for n in range(1, count + 1)]
    return snapshot(
        Lead=[lead(i, **fields) for i in ids], LeadHistory=[history(i, at) for i in ids]
    )
