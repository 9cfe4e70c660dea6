"""``Ledger.record``: one cycle's :class:`Decision` written in one transaction.

Recording is idempotent: episodes and notifications are inserted with ``ON CONFLICT DO
NOTHING`` under their unique keys, so recording the same decision twice (a retried cycle, two
replicas deciding at once) creates nothing the second time.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from alerter.episodes import Decided, Decision, EpisodeKey, NotificationKey, Status
from alerter.ledger.codec import (
    encode_datetime,
    encode_evaluation,
    encode_payload,
)
from alerter.ledger.schema import EpisodeRow, NotificationRow
from alerter.ledger.sql import insert_ignoring

_DEDUP_MAX = 300


def record_decision(session: Session, decision: Decision, now: datetime) -> list[int]:
    """Write ``decision``; return the ids of the notification rows it created."""
    episodes: dict[EpisodeKey, int] = {}
    for key, evaluation in decision.opened:
        episodes[key] = _open(session, key, encode_evaluation(evaluation), evaluation.owner_id, now)
    for episode_id, evaluation in decision.updated:
        session.execute(
            update(EpisodeRow)
            .where(EpisodeRow.id == episode_id)
            .values(evaluation=encode_evaluation(evaluation), owner_id=evaluation.owner_id)
        )
    created: list[int] = []
    ids: list[int] = []
    for decided in decision.notify:
        episode = None if decided.episode is None else _episode_id(session, decided, episodes)
        unique = dedup_key(episode, decided)
        new_id = insert_ignoring(session, NotificationRow, _row(decided, episode, unique, now))
        if new_id is not None:
            created.append(new_id)
        ids.append(
            new_id
            if new_id is not None
            else session.execute(
                select(NotificationRow.id).where(NotificationRow.dedup_key == unique)
            ).scalar_one()
        )
    _link_folded(session, decision.notify, ids)
    for closing in decision.close:
        session.execute(
            update(EpisodeRow)
            .where(EpisodeRow.id == closing.episode_id, EpisodeRow.closed_at.is_(None))
            .values(closed_at=now, close_reason=closing.reason)
        )
    if decision.release:
        session.execute(
            update(NotificationRow)
            .where(
                NotificationRow.id.in_(decision.release),
                NotificationRow.status == Status.SILENCED.value,
            )
            .values(status=Status.QUEUED.value, not_before=now)
        )
    if decision.cancel:
        session.execute(
            update(NotificationRow)
            .where(
                NotificationRow.id.in_(decision.cancel),
                NotificationRow.status.in_([Status.QUEUED.value, Status.SILENCED.value]),
            )
            .values(status=Status.CANCELLED.value)
        )
    return created


def _open(
    session: Session,
    key: EpisodeKey,
    evaluation: dict[str, object],
    owner: str | None,
    now: datetime,
) -> int:
    """The episode's id, opening it if new. An episode closed earlier under the same key (the
    record left the rule and came back with the same clock start) is reopened rather than
    duplicated, so what was already sent for it still counts."""
    values = {
        "rule_id": key.rule_id,
        "object": key.object,
        "record_id": key.record_id,
        "clock_start": key.clock_start,
        "owner_id": owner,
        "opened_at": now,
        "evaluation": evaluation,
    }
    new_id = insert_ignoring(session, EpisodeRow, values)
    if new_id is not None:
        return new_id
    row = session.scalars(select(EpisodeRow).where(_is_key(key))).one()
    if row.closed_at is not None:
        row.closed_at = None
        row.close_reason = None
        row.evaluation = evaluation
        row.owner_id = owner
        session.flush()
    return row.id


def _is_key(key: EpisodeKey) -> ColumnElement[bool]:
    return and_(
        EpisodeRow.rule_id == key.rule_id,
        EpisodeRow.record_id == key.record_id,
        EpisodeRow.clock_start == key.clock_start,
    )


def _episode_id(session: Session, decided: Decided, known: dict[EpisodeKey, int]) -> int:
    key = decided.episode
    assert key is not None
    if key not in known:
        row = session.scalars(select(EpisodeRow).where(_is_key(key))).one_or_none()
        if row is None:
            raise ValueError(f"a notification for an episode never opened: {key}")
        known[key] = row.id
    return known[key]


def dedup_key(episode_id: int | None, decided: Decided) -> str:
    """The row's unique key: the episode and notification key, or for a summary (no episode)
    its key, budget and the notifications it folds."""
    key = decided.key
    if episode_id is not None:
        text = f"e{episode_id}:{_key_text(key)}"
        if len(text) <= _DEDUP_MAX:
            return text
        return f"e{episode_id}:{_digest(text)}"
    folded = sorted(
        json.dumps(
            [
                item.rule_id,
                item.evaluation.record_id,
                encode_datetime(item.evaluation.clock_start),
                item.kind.value,
                item.tier,
                str(item.recipient),
                item.channel,
            ]
        )
        for item in decided.items
    )
    return "s:" + _digest(json.dumps([_key_text(key), decided.budget_key, folded]))


def _key_text(key: NotificationKey) -> str:
    return f"{key.kind.value}:{key.tier}:{key.recipient}:{key.channel}:{key.sequence}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _row(decided: Decided, episode_id: int | None, key: str, now: datetime) -> dict[str, object]:
    return {
        "dedup_key": key,
        "episode_id": episode_id,
        "kind": decided.key.kind.value,
        "tier": decided.key.tier,
        "recipient": decided.key.recipient,
        "channel": decided.key.channel,
        "sequence": decided.key.sequence,
        "status": decided.status.value,
        "budget_key": decided.budget_key,
        "reason": decided.reason,
        "decided_at": now,
        "not_before": decided.not_before,
        "attempts": 0,
        "payload": encode_payload(decided.notification, decided.items),
        "addresses": [],  # where it went is known once it is sent (mark_sent / mark_failed)
    }


def _link_folded(session: Session, notify: tuple[Decided, ...], ids: list[int]) -> None:
    """Point each folded row at the summary (same budget) that tells its notification."""
    summaries = [(d, i) for d, i in zip(notify, ids, strict=True) if d.items]
    for decided, row_id in zip(notify, ids, strict=True):
        if decided.status is not Status.FOLDED:
            continue
        for summary, summary_id in summaries:
            if summary.budget_key == decided.budget_key and decided.notification in summary.items:
                session.execute(
                    update(NotificationRow)
                    .where(NotificationRow.id == row_id, NotificationRow.summary_id.is_(None))
                    .values(summary_id=summary_id)
                )
                break
