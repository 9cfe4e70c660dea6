"""The errors the shell raises, and whether trying again can help.

AlerterError
├── ConfigurationError        settings that cannot work (missing credentials): exit 2
└── SourceError               Salesforce said no
    ├── SourceUnavailable     retryable (5xx, timeouts, REQUEST_LIMIT_EXCEEDED) but retries
    │                         ran out: the cycle is skipped and logged
    ├── BudgetExhausted       the org's remaining daily API calls fell below our reserve
    └── RuleQueryError        the org rejected one rule's query (MALFORMED_QUERY,
                              INVALID_FIELD): that rule is disabled, the others go on
"""

from __future__ import annotations


class AlerterError(Exception):
    """Base of every error alerter raises on purpose."""


class UsageError(AlerterError):
    """A command called in a way that cannot work; the CLI exits 2 with this message."""


class ConfigurationError(AlerterError):
    """Settings that cannot work; the process exits 2 with this message."""


class SourceError(AlerterError):
    """Salesforce could not give us the data."""

    retryable = False


class SourceUnavailable(SourceError):
    """Salesforce failed in a way that may pass (outage, timeout, rate limit)."""

    retryable = True


class BudgetExhausted(SourceError):
    """The org's remaining daily API allowance is below the reserve we leave to others."""


class RuleQueryError(SourceError):
    """The org rejected a rule's query; the rule is broken for this org, not the service."""

    def __init__(self, rule_id: str, message: str) -> None:
        super().__init__(f"rule {rule_id}: {message}")
        self.rule_id = rule_id


def one_line(exc: BaseException) -> str:
    """``Type: first line`` of an exception, for a log field or a health reason (a driver's
    multi-line message, or its SQL, would not fit either)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
