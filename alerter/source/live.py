"""One evaluation pass over a live org: each rule's records streamed through the core.

Failures are contained where they belong: a rule the org rejects is disabled and the others go
on; an outage or a rate limit is retried with back-off and jitter, then the pass is abandoned
with an error (never a crash); a low API allowance stops polling and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from alerter.errors import BudgetExhausted, RuleQueryError, SourceError, SourceUnavailable
from alerter.evaluate import Evaluation, evaluate_rule
from alerter.records import Snapshot
from alerter.rule import Rule
from alerter.source.salesforce import SalesforceSource

log = structlog.get_logger(__name__)
T = TypeVar("T")
_NO_LOOKUPS = Snapshot({})


@dataclass
class LivePass:
    """What one pass found: evaluations, the owners they name, and what went wrong."""

    evaluations: list[Evaluation] = field(default_factory=list)
    owners: Snapshot = _NO_LOOKUPS
    disabled: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    api_calls: int = 0
    daily_usage: tuple[int, int] | None = None


def evaluate_live(
    rules: Sequence[Rule], source: SalesforceSource, now: datetime, ids: Sequence[str] = ()
) -> LivePass:
    """Evaluate the rules against the org at ``now`` (only records ``ids`` if given)."""
    result = LivePass()
    calls_before = source.counter.calls
    retry = _retrying(source)
    try:
        for rule in rules:
            retry(source.check_budget)
            try:
                result.evaluations += retry(
                    lambda rule=rule: list(  # type: ignore[misc]
                        evaluate_rule(rule, source.rule_records(rule, now, ids), _NO_LOOKUPS, now)
                    )
                )
            except RuleQueryError as exc:
                result.disabled[rule.id] = str(exc)
                log.error("rule.disabled", rule=rule.id, error=str(exc))
        owner_ids = sorted({e.owner_id for e in result.evaluations if e.owner_id})
        owners = retry(lambda: source.owners(owner_ids)) if owner_ids else []
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


def _retrying(source: SalesforceSource) -> Callable[[Callable[[], T]], T]:
    settings = source.settings

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("source.retrying", attempt=state.attempt_number, error=str(error))

    retrying = Retrying(
        retry=retry_if_exception_type(SourceUnavailable),
        stop=stop_after_attempt(settings.retry_attempts),
        wait=wait_random_exponential(multiplier=settings.retry_wait, max=60),  # full jitter
        before_sleep=before_sleep,
        reraise=True,
    )

    def run(call: Callable[[], T]) -> T:
        return retrying(call)

    return run
