"""An in-memory ledger: a Decision applied to a LedgerView gives the next cycle's view.

It is what the real ledger does, without storage: the test fake for ``decide`` run over many
cycles, and a reference for the ledger's own tests. Ids are handed out above the largest one
in the view. ``recent`` only grows (nothing ages out of the hour): build a fresh view to model
the hour rolling on.

Notifications are recorded as decided; nothing is sent here: ``mark_sent`` plays a perfect
deliver step.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime

from alerter.episodes import (
    BUDGETED,
    Decision,
    LedgerView,
    OpenEpisode,
    PastNotification,
    Status,
)


def apply(view: LedgerView, decision: Decision, now: datetime) -> LedgerView:
    """The view after the ledger recorded ``decision`` at ``now``."""
    episodes = dict(view.episodes)
    closing = {c.episode_id for c in decision.close}
    episodes = {pair: e for pair, e in episodes.items() if e.id not in closing}
    released, cancelled = set(decision.release), set(decision.cancel)
    next_episode = 1 + max((e.id for e in view.episodes.values()), default=0)
    next_notification = 1 + max(
        (p.id for e in view.episodes.values() for p in e.notifications), default=0
    )
    for key, evaluation in decision.opened:
        episodes[(key.rule_id, key.record_id)] = OpenEpisode(
            next_episode, key, evaluation.owner_id, now, evaluation
        )
        next_episode += 1
    refreshed = dict(decision.updated)
    for pair, episode in list(episodes.items()):
        notifications = tuple(
            replace(p, status=_after(p.status, p.id in released, p.id in cancelled))
            for p in episode.notifications
        )
        evaluation = refreshed.get(episode.id, episode.evaluation)
        episodes[pair] = replace(episode, notifications=notifications, evaluation=evaluation)
    by_key = {e.key: pair for pair, e in episodes.items()}
    recent: Counter[str] = Counter(view.recent)
    for decided in decision.notify:
        if decided.status in BUDGETED:
            recent[decided.budget_key] += 1
        if decided.episode is None or decided.episode not in by_key:
            continue  # a summary, or a resolved message of an episode closed just now
        pair = by_key[decided.episode]
        past = PastNotification(
            next_notification, decided.key, decided.status, now, decided.not_before
        )
        next_notification += 1
        episode = episodes[pair]
        episodes[pair] = replace(episode, notifications=(*episode.notifications, past))
    return replace(view, episodes=episodes, recent=dict(recent))


def mark_sent(view: LedgerView, now: datetime) -> LedgerView:
    """Every queued notification due by ``now`` sent (what a perfect deliver step does)."""
    episodes = {
        pair: replace(
            e,
            notifications=tuple(
                replace(p, status=Status.SENT)
                if p.status is Status.QUEUED and p.not_before <= now
                else p
                for p in e.notifications
            ),
        )
        for pair, e in view.episodes.items()
    }
    return replace(view, episodes=episodes)


def _after(status: Status, released: bool, cancelled: bool) -> Status:
    if cancelled and status in (Status.QUEUED, Status.SILENCED):
        return Status.CANCELLED
    if released and status is Status.SILENCED:
        return Status.QUEUED
    return status
