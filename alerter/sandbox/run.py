"""Running the sandbox: the Salesforce emulator, the Slack fake and the SMTP sink, started
together from one snapshot, and the settings that point ``alerter`` at them, as values and as
``export`` lines. The one place that builds running sandboxes, for ``alerter sandbox serve``,
``alerter demo``, tests and benches.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from alerter.sandbox.logins import Credentials
from alerter.sandbox.org import Org
from alerter.sandbox.server import SalesforceEmulator
from alerter.sandbox.slack import DEFAULT_TOKEN, SlackChannel, SlackFake, SlackUser
from alerter.sandbox.smtp import SmtpSink
from alerter.settings import SalesforceSettings, Settings, SlackSettings, SmtpSettings

CHANNELS = (
    SlackChannel("C0SLAALERTS", "sla-alerts"),
    SlackChannel("C0SALESQUEUE", "sales-queue"),
    SlackChannel("C0LEADERSHIP", "sales-leadership"),
)
"""The sandbox workspace's channels, the bot a member of each: the fallback channel and the
channels the shipped rules name."""
FALLBACK_CHANNEL = "#sla-alerts"
SMTP_USERNAME, SMTP_PASSWORD = "alerter", "sandbox-smtp-password"
MAIL_FROM = "alerter@example.com"

_SALESFORCE_EXPORTS = (
    "login_url",
    "domain",
    "username",
    "password",
    "security_token",
    "ca_bundle",
    "api_reserve",
)
_SLACK_EXPORTS = ("base_url", "token", "fallback_channel")
_SMTP_EXPORTS = ("host", "port", "security", "username", "password", "from_address", "ca_bundle")


def emulator_settings(emulator: SalesforceEmulator, **overrides: object) -> SalesforceSettings:
    """Salesforce settings that log in to a running emulator with its credentials."""
    credentials = emulator.credentials
    values: dict[str, object] = {
        "login_url": emulator.url,
        "domain": "login",
        "username": credentials.username,
        "password": SecretStr(credentials.password),
        "security_token": SecretStr(credentials.security_token),
        "ca_bundle": Path(emulator.ca_bundle),
        "api_reserve": 0,
    }
    values.update(overrides)
    return SalesforceSettings.model_validate(values)


def export_lines(settings: SalesforceSettings) -> list[str]:
    """``export ALERTER_SALESFORCE__X=value`` lines for a shell (sandbox credentials only)."""
    return shell_lines(_environment("SALESFORCE", settings, _SALESFORCE_EXPORTS))


def shell_lines(environment: Mapping[str, str]) -> list[str]:
    """``export NAME=value`` lines, values quoted for a POSIX shell (so ``eval`` takes them)."""
    return [f"export {name}={shlex.quote(value)}" for name, value in environment.items()]


def slack_users(users: Iterable[Mapping[str, Any]]) -> list[SlackUser]:
    """A Slack member for each Salesforce ``User`` row with an email, so that
    ``users.lookupByEmail`` finds the org's reps; an inactive user is a deactivated member, as
    an offboarded rep is in both systems. Ids follow the rows' order (``U00000001``, ...)."""
    with_email = (row for row in users if isinstance(row.get("Email"), str) and row["Email"])
    return [
        SlackUser(
            f"U{n:08d}", row["Email"], str(row.get("Name") or ""), row.get("IsActive") is False
        )
        for n, row in enumerate(with_email, 1)
    ]


@dataclass(frozen=True)
class Sandbox:
    """The three running servers of one sandbox, and the settings that reach each."""

    salesforce: SalesforceEmulator
    slack: SlackFake
    smtp: SmtpSink

    def salesforce_settings(self, **overrides: object) -> SalesforceSettings:
        """Settings that log in to the emulator."""
        return emulator_settings(self.salesforce, **overrides)

    def slack_settings(self, **overrides: object) -> SlackSettings:
        """Settings that post to the Slack fake with its bot token (plain HTTP)."""
        values: dict[str, object] = {
            "base_url": self.slack.url,  # ends with /api/, as WebClient's base_url must
            "token": SecretStr(self.slack.token),
            "fallback_channel": FALLBACK_CHANNEL,
        }
        return SlackSettings.model_validate({**values, **overrides})

    def smtp_settings(self, **overrides: object) -> SmtpSettings:
        """Settings that send through the SMTP sink: STARTTLS, its CA, its login."""
        return self.smtp.settings(**{"from": MAIL_FROM, **overrides})

    def configure(self, settings: Settings) -> Settings:
        """``settings`` with Salesforce, Slack and SMTP pointed at this sandbox; the rest (rules,
        templates, logs) kept."""
        update = {
            "salesforce": self.salesforce_settings(),
            "slack": self.slack_settings(),
            "smtp": self.smtp_settings(),
        }
        return settings.model_copy(update=update)

    def environment(self) -> dict[str, str]:
        """Every ``ALERTER_...`` variable that points ``alerter`` at this sandbox, in the order
        Salesforce, Slack, SMTP; for a child process's environment or ``export`` lines."""
        return {
            **_environment("SALESFORCE", self.salesforce_settings(), _SALESFORCE_EXPORTS),
            **_environment("SLACK", self.slack_settings(), _SLACK_EXPORTS),
            **_environment("SMTP", self.smtp_settings(), _SMTP_EXPORTS),
        }

    def export_lines(self) -> list[str]:
        """:meth:`environment` as ``export`` lines for a shell."""
        return shell_lines(self.environment())


@contextmanager
def running_emulator(
    data: Path,
    *,
    now: datetime | None = None,
    page_size: int = 2000,
    port: int = 0,
) -> Iterator[SalesforceEmulator]:
    """An emulator seeded from a snapshot file, serving until the block ends; with ``now``, its
    clock (for SOQL date literals and record stamps) is frozen there."""
    org = Org.from_file(data) if now is None else Org.from_file(data, clock=lambda: now)
    emulator = SalesforceEmulator(org, credentials=Credentials(), page_size=page_size, port=port)
    with emulator:
        yield emulator


@contextmanager
def running_sandbox(
    data: Path,
    *,
    now: datetime | None = None,
    page_size: int = 2000,
    port: int = 0,
    outbox: Path | None = None,
) -> Iterator[Sandbox]:
    """A whole sandbox serving until the block ends: the emulator seeded from ``data`` (on
    ``port``, its clock frozen at ``now`` if given), a Slack workspace whose members are the
    org's users, and a STARTTLS mail sink with a login. With ``outbox``, the Slack fake and the
    sink write what they accept to ``outbox/slack/NNNN.json`` and ``outbox/mail/NNNN.eml``."""
    with ExitStack() as stack:
        salesforce = stack.enter_context(
            running_emulator(data, now=now, page_size=page_size, port=port)
        )
        users = slack_users(salesforce.org.records("User"))
        slack = SlackFake(users=users, channels=CHANNELS, token=DEFAULT_TOKEN, outbox=outbox)
        stack.enter_context(slack)
        smtp = SmtpSink(username=SMTP_USERNAME, password=SMTP_PASSWORD, outbox=outbox)
        stack.enter_context(smtp)
        yield Sandbox(salesforce, slack, smtp)


def _environment(group: str, settings: BaseModel, names: Iterable[str]) -> dict[str, str]:
    """``ALERTER_<GROUP>__<NAME>`` -> value for the named fields that are set (a field with an
    alias, such as SMTP's ``from``, goes by its alias)."""
    fields = type(settings).model_fields
    environment = {}
    for name in names:
        value = getattr(settings, name)
        if value is None:
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        environment[f"ALERTER_{group}__{(fields[name].alias or name).upper()}"] = text
    return environment
