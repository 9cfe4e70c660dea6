"""The hourly budget: nobody gets more than so many messages an hour, however many leads breach.

Each notification counts against one **budget key**, the person or place it lands on:
``user:<owner id>`` for the owner, ``manager-of:<owner id>`` and ``skip-level-of:<owner id>``
for the owner's managers (their Ids are not known before routing; the owner's are), the
channel name, the email address. ``LedgerView.recent`` says how many went out on their own in
the past hour; this cycle's are added in a fixed order (by due time, then rule, then record),
so the same inputs fold the same notifications. The excess is FOLDED and told in one SUMMARY
message per (budget key, channel) per cycle: a storm becomes one message, and nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from alerter.delivery.model import Kind
from alerter.episodes import Decided, NotificationKey, Status
from alerter.evaluate import Evaluation
from alerter.rule import Recipient

SUMMARY_TEMPLATE = "summary"


def budget_key(recipient: Recipient, evaluation: Evaluation) -> str:
    """The person or place a notification to ``recipient`` about ``evaluation`` counts against."""
    owner = evaluation.owner_id or "none"
    if recipient.kind == "owner":
        return f"user:{owner}"
    if recipient.kind == "manager":
        return f"manager-of:{owner}"
    if recipient.kind == "skip_level_manager":
        return f"skip-level-of:{owner}"
    return (recipient.target or "").lower()


def apply_budget(
    candidates: Sequence[tuple[datetime, Decided]],
    recent: Mapping[str, int],
    budget_per_hour: int,
) -> list[Decided]:
    """Queue candidates (each with the moment it came due) within the budget, fold the rest,
    and add one summary per (budget key, channel) that folded any. Silenced candidates pass
    through untouched: they are not sent, so they do not count."""
    used = dict(recent)
    out: list[Decided] = []
    folded: dict[tuple[str, str], list[Decided]] = {}
    ordered = sorted(candidates, key=lambda c: (c[0], *_order(c[1])))
    for _, decided in ordered:
        if decided.status is not Status.QUEUED:
            out.append(decided)
            continue
        key = decided.budget_key
        if used.get(key, 0) < budget_per_hour:
            used[key] = used.get(key, 0) + 1
            out.append(decided)
            continue
        over = replace(
            decided,
            status=Status.FOLDED,
            reason=f"{decided.reason}; folded into a summary: over the budget of "
            f"{budget_per_hour} an hour for {key}",
        )
        out.append(over)
        folded.setdefault((key, decided.key.channel), []).append(over)
    for (key, _), items in sorted(folded.items()):
        out.append(summary(items, key, budget_per_hour))
    return out


def summary(items: Sequence[Decided], key: str, budget_per_hour: int) -> Decided:
    """One message telling what ``items`` (folded, same budget key and channel) would have said.
    It waits for the latest quiet-hours hold among them: quiet hours are never broken."""
    first = items[0]
    notifications = tuple(d.notification for d in items)
    notification = replace(
        first.notification,
        kind=Kind.SUMMARY,
        template=SUMMARY_TEMPLATE,
        tier=None,
    )
    return Decided(
        episode=None,
        key=NotificationKey(Kind.SUMMARY, 0, first.key.recipient, first.key.channel, 0),
        notification=notification,
        status=Status.QUEUED,
        not_before=max(d.not_before for d in items),
        budget_key=key,
        reason=f"summary of {len(items)} notifications over the budget of {budget_per_hour} "
        f"an hour for {key}",
        items=notifications,
    )


def _order(decided: Decided) -> tuple[str, ...]:
    n, k = decided.notification, decided.key
    evaluation: Evaluation = n.evaluation
    return (
        n.rule_id,
        evaluation.record_id,
        f"{k.tier:04d}",
        str(k.kind),
        f"{k.sequence:06d}",
        k.recipient,
        k.channel,
    )
