"""Point the real simple-salesforce client at the emulator without changing a line of it.

simple-salesforce logs in at ``https://{domain}.salesforce.com/...`` and then talks to whatever
instance the login names. The emulator's login answers name the emulator itself
(``https://127.0.0.1:PORT``), so only the login host needs redirecting: the session built here
mounts a transport adapter for each login host that rewrites it to the emulator's address, and
trusts the emulator's CA (and only it, for ``trust_env = False`` keeps ``REQUESTS_CA_BUNDLE``
and proxies out of the way)::

    with emulator_session(emulator) as session:
        sf = Salesforce(username=..., password=..., security_token=..., session=session)
        sf.query_all("SELECT Id FROM Lead")

The adapter is the application's own (``alerter.source.session``), so tests go through the same
plumbing as production.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import requests

from alerter.source.session import LoginHostAdapter, make_session

if TYPE_CHECKING:
    from alerter.sandbox.server import SalesforceEmulator

MY_DOMAIN = "emulator.my"
"""A My Domain for logins that Salesforce refuses on login/test, such as client credentials."""
LOGIN_DOMAINS = ("login", "test", MY_DOMAIN)
"""The ``domain=`` values whose login host the session sends to the emulator."""


def session_for(
    url: str,
    ca_bundle: str | Path,
    *,
    domains: tuple[str, ...] = LOGIN_DOMAINS,
    timeout: float = 10.0,
) -> requests.Session:
    """A session that trusts ``ca_bundle`` and sends logins for ``domains`` to ``url`` (an
    emulator in this process or another); every request times out after ``timeout`` seconds."""
    session = make_session(timeout=timeout, ca_bundle=Path(ca_bundle))
    for domain in domains:
        host = f"https://{domain}.salesforce.com"
        session.mount(host, LoginHostAdapter(host, url))
    return session


def emulator_session(
    emulator: SalesforceEmulator,
    *,
    domains: tuple[str, ...] = LOGIN_DOMAINS,
    timeout: float = 10.0,
) -> requests.Session:
    """:func:`session_for` a running emulator."""
    return session_for(emulator.url, emulator.ca_bundle, domains=domains, timeout=timeout)
