"""Running the emulator for people: the settings that point ``alerter`` at it, as values and as
``export`` lines, and a context manager for in-process use (``alerter demo``, tests, benches)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr

from alerter.sandbox.logins import Credentials
from alerter.sandbox.org import Org
from alerter.sandbox.server import SalesforceEmulator
from alerter.settings import SalesforceSettings


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
    lines = []
    for name in (
        "login_url",
        "domain",
        "username",
        "password",
        "security_token",
        "ca_bundle",
        "api_reserve",
    ):
        value = getattr(settings, name)
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        lines.append(f"export ALERTER_SALESFORCE__{name.upper()}={shlex.quote(text)}")
    return lines


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
