"""One evaluation pass over a live org: each rule's records streamed through the core.

Failures are contained where they belong: a rule the org rejects is disabled and the others go
on; an outage or a rate limit is retried call by call inside the source, and when retries run
out the pass stops with an error (never a crash); a low API allowance stops polling and says
so. A pass that stopped with an error is incomplete: its evaluations cover only part of the org.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from alerter.errors import BudgetExhausted, RuleQueryError, SourceError
from alerter.evaluate import Evaluation, evaluate_rule
from alerter.records import Snapshot
from alerter.rule import Rule
from alerter.source.salesforce import SalesforceSource

log = structlog.get_logger(__name__)
_NO_LOOKUPS = Snapshot({})


@dataclass
class LivePass:
    """What one pass found: evaluations (unless a sink took them), the owners they name, and
    what went wrong."""

    evaluations: list[Evaluation] = field(default_factory=list)
    owners: Snapshot = _NO_LOOKUPS
    disabled: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    api_calls: int = 0
    daily_usage: tuple[int, int] | None = None


def evaluate_live(
    rules: Sequence[Rule],
    source: SalesforceSource,
    now: datetime,
    ids: Sequence[str] = (),
    sink: Callable[[Evaluation], None] | None = None,
    shown: Mapping[str, Iterable[str]] | None = None,
) -> LivePass:
    """Evaluate the rules against the org at ``now`` (only records ``ids`` if given).

    Records are read page by page and dropped once evaluated; evaluations go to ``sink`` as they
    come, or are collected in the result when there is none (memory then grows with them).
    ``shown`` maps a rule id to the fields its messages show (``uses.template_fields``).
    """
    result = LivePass()
    take = sink or result.evaluations.append
    owner_ids: set[str] = set()
    calls_before = source.counter.calls
    try:
        for rule in rules:
            source.check_budget()
            try:
                records = source.rule_records(rule, now, ids, (shown or {}).get(rule.id, ()))
                for evaluation in evaluate_rule(rule, records, _NO_LOOKUPS, now):
                    if evaluation.owner_id:
                        owner_ids.add(evaluation.owner_id)
                    take(evaluation)
            except RuleQueryError as exc:
                result.disabled[rule.id] = str(exc)
                log.error("rule.disabled", rule=rule.id, error=str(exc))
        owners = source.owners(sorted(owner_ids)) if owner_ids else []
        result.owners = Snapshot(
            {
                "User": [o for o in owners if str(o["Id"]).startswith("005")],
                "Group": [o for o in owners if str(o["Id"]).startswith("00G")],
            }
        )
    except BudgetExhausted as exc:
        result.error = str(exc)
        log.warning("source.budget_reserve_reached", error=str(exc))
    except SourceError as exc:
        result.error = str(exc)
        log.error("source.pass_abandoned", error=str(exc), retryable=exc.retryable)
    result.api_calls = source.counter.calls - calls_before
    result.daily_usage = source.daily_usage
    return result
