"""Trouble on demand: the failures a Salesforce client must survive, injected while it runs.

A test arms faults on ``emulator.faults`` (thread-safe, takes effect on the next call)::

    emulator.faults.latency = 0.05                 # every call answers 50 ms late
    emulator.faults.fail_next(2, status=503)       # the next 2 REST calls: 503 SERVER_UNAVAILABLE
    emulator.faults.fail_next(1, status=403, error_code="REQUEST_LIMIT_EXCEEDED")
    emulator.faults.fail_page(2)                   # serving page 2 of a query: 500, once
    emulator.faults.drop_next(1)                   # the next REST call: connection closed, no reply
    emulator.faults.clear()                        # back to a healthy org

Faults hit REST API calls (``/services/data/vNN.N/...``) only; logins stay healthy (latency
aside) so a client can always reconnect, and a login is made to fail with wrong credentials or
by stopping the emulator. An injected failure is not counted against the daily API allowance,
since Salesforce never served it. A failed page leaves its query cursor intact, so a client that
retries the same ``nextRecordsUrl`` resumes where it stopped. Expiring sessions is the
emulator's own business: ``emulator.expire_sessions()``.

When several faults are armed, a drop wins over a failure, and a ``fail_next`` over a page fault.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

# What Salesforce says with each status when nothing more specific applies.
DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_QUERY_LOCATOR", "invalid query locator"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    404: ("NOT_FOUND", "The requested resource does not exist"),
    500: ("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please try again."),
    502: ("UNKNOWN_EXCEPTION", "Bad gateway."),
    503: ("SERVER_UNAVAILABLE", "Server is temporarily unavailable. Please try again later."),
}


@dataclass(frozen=True)
class Failure:
    """An error response: the HTTP status and Salesforce's ``[{"message", "errorCode"}]``."""

    status: int
    error_code: str
    message: str

    @classmethod
    def of(cls, status: int, error_code: str | None = None, message: str | None = None) -> Failure:
        """A failure with Salesforce's usual code and text for ``status`` unless given."""
        code, text = DEFAULT_ERRORS.get(status, DEFAULT_ERRORS[500])
        return cls(status, error_code or code, message or text)

    def body(self) -> list[dict[str, str]]:
        """The JSON body Salesforce sends with this error."""
        return [{"message": self.message, "errorCode": self.error_code}]


class Drop:
    """Close the connection without answering, as a crashed proxy or a network cut does."""


DROP = Drop()


@dataclass
class _PageFault:
    page: int
    failure: Failure
    remaining: int


class Faults:
    """The armed faults; the server asks :meth:`take` once per REST call what to do."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency = 0.0
        self._failures: list[Failure] = []
        self._drops = 0
        self._pages: list[_PageFault] = []

    @property
    def latency(self) -> float:
        """Seconds every call (logins too) waits before it is answered."""
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency cannot be negative")
        with self._lock:
            self._latency = seconds

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        error_code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` REST calls with ``status`` (queued after any armed before)."""
        failure = Failure.of(status, error_code, message)
        with self._lock:
            self._failures.extend([failure] * count)

    def fail_page(
        self,
        page: int,
        *,
        status: int = 500,
        error_code: str | None = None,
        message: str | None = None,
        times: int = 1,
    ) -> None:
        """Fail the next ``times`` requests for page ``page`` (1 = the first) of any query."""
        if page < 1:
            raise ValueError("pages are numbered from 1")
        with self._lock:
            self._pages.append(_PageFault(page, Failure.of(status, error_code, message), times))

    def drop_next(self, count: int = 1) -> None:
        """Close the connection without a response on the next ``count`` REST calls."""
        with self._lock:
            self._drops += count

    def clear(self) -> None:
        """Disarm everything and remove the latency."""
        with self._lock:
            self._latency = 0.0
            self._failures.clear()
            self._drops = 0
            self._pages.clear()

    def take(self, page: int | None = None) -> Drop | Failure | None:
        """What to do with the REST call at hand (``page``: its page number, if a query page);
        consumes the fault it returns."""
        with self._lock:
            if self._drops:
                self._drops -= 1
                return DROP
            if self._failures:
                return self._failures.pop(0)
            for fault in self._pages:
                if fault.page == page:
                    fault.remaining -= 1
                    if not fault.remaining:
                        self._pages.remove(fault)
                    return fault.failure
            return None
