"""The HTTP session under simple-salesforce: timeouts, trusted CAs, the login host, call counts.

simple-salesforce builds login URLs as ``https://{domain}.salesforce.com``; a login-host adapter
sends those to another address (the local emulator), so the real client runs unchanged.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter


class _TimeoutSession(requests.Session):
    """A session whose every request has a timeout, as simple-salesforce sets none."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class LoginHostAdapter(HTTPAdapter):
    """Sends requests for ``https://<domain>.salesforce.com`` to ``target`` instead."""

    def __init__(self, prefix: str, target: str) -> None:
        super().__init__()
        self.prefix = prefix.rstrip("/")
        self.target = target.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        if request.url and request.url.startswith(self.prefix):
            request.url = self.target + request.url[len(self.prefix) :]
        return super().send(request, *args, **kwargs)


class CallCounter:
    """Counts REST API calls (not logins), the unit of the org's daily allowance, and keeps the
    allowance the last ``Sforce-Limit-Info: api-usage=USED/MAX`` header reported."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.daily_usage: tuple[int, int] | None = None

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/services/data/" not in (response.url or ""):
            return
        usage = _API_USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        with self._lock:
            self.calls += 1
            if usage is not None:
                self.daily_usage = (int(usage[1]), int(usage[2]))


_API_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


def make_session(
    *,
    timeout: float,
    ca_bundle: Path | None = None,
    domain: str = "login",
    login_url: str | None = None,
    counter: CallCounter | None = None,
) -> requests.Session:
    """A session for simple-salesforce with the given timeout, trust and login host."""
    session = _TimeoutSession(timeout)
    if ca_bundle is not None:
        # With trust_env, REQUESTS_CA_BUNDLE from the environment would win over ours.
        session.trust_env = False
        session.verify = str(ca_bundle)
    if login_url is not None:
        session.mount(
            f"https://{domain}.salesforce.com",
            LoginHostAdapter(f"https://{domain}.salesforce.com", login_url),
        )
    if counter is not None:
        session.hooks["response"].append(counter)
    return session
