"""A local Salesforce that speaks the real wire protocol over HTTPS, for the real client.

Mocking simple-salesforce would test our guesses about it; this server instead answers what
Salesforce answers, so the client's own login parsing, paging and error mapping run unchanged
(see ``alerter.sandbox.client`` for pointing it here).

Endpoints (``vNN.N`` is any version up to the org's):

- ``POST /services/Soap/u/NN.N``: SOAP login (``password`` is password + security token);
  success gives ``sessionId`` and ``serverUrl``, failure a SOAP fault ``INVALID_LOGIN`` (500).
- ``POST /services/oauth2/token``: grant types ``password``, ``client_credentials`` (form or
  HTTP Basic) and the JWT bearer (RS256; ``iss`` consumer key, ``sub`` username, ``aud``,
  ``exp``); failure is 400 ``{"error": "invalid_grant", ...}``.
- ``GET /services/data/``: the versions. Under ``/services/data/vNN.N/``: ``query/?q=`` and
  ``queryAll/?q=`` (then ``query/01g...-2000`` pages, a server-side cursor per query, the query
  run once), ``sobjects/`` (global describe), ``sobjects/X/describe/``, ``POST sobjects/X/``,
  ``PATCH sobjects/X/Id``, ``limits/``.

Errors (the exception is what simple-salesforce raises for the status)::

    400  MALFORMED_QUERY, INVALID_FIELD, ...  the org refuses      SalesforceMalformedRequest
    400  INVALID_QUERY_LOCATOR                unknown query cursor SalesforceMalformedRequest
    401  INVALID_SESSION_ID                   no or stale session  SalesforceExpiredSession (*)
    403  REQUEST_LIMIT_EXCEEDED               allowance spent      SalesforceRefusedRequest
    404  NOT_FOUND                            unknown resource     SalesforceResourceNotFound
    405  METHOD_NOT_ALLOWED                   e.g. DELETE          SalesforceGeneralError
    5xx  as injected (see faults.py)          emulator.faults      SalesforceGeneralError
    500  SOAP fault, sf:exceptionCode         bad SOAP login       SalesforceAuthenticationFailed
         INVALID_LOGIN
    400  {"error": "invalid_grant"}           bad OAuth login      SalesforceAuthenticationFailed

(*) A client that logged in itself logs in again on a 401 and retries, so only a client handed
a session id sees it. Every REST answer carries ``Sforce-Limit-Info: api-usage=USED/MAX``; a
call counts against the daily allowance once its session is valid and the allowance not spent.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from alerter.sandbox.errors import SalesforceError
from alerter.sandbox.faults import Drop, Failure, Faults
from alerter.sandbox.logins import ORG_ID, Credentials, oauth_token, soap_login
from alerter.sandbox.org import Org
from alerter.sandbox.tls import HTTPSServer, LocalCertificate, RecordedRequest, Reply, Request

_MAX_CURSORS = 50  # open query cursors kept; Salesforce too drops the oldest past its limit
_REST = re.compile(r"/services/data/v(\d+\.\d)(/.*)?")
_SOAP = re.compile(r"/services/Soap/u/(\d+\.\d)")
_LOCATOR = re.compile(r"/(?:query|queryAll)/(01g\w+)-(\d+)/?")


@dataclass(frozen=True)
class _Cursor:
    rows: list[dict[str, Any]]
    page_size: int


class SalesforceEmulator:
    """An org behind HTTPS. ``start()`` binds and serves in a thread; nothing before does I/O.

    ``api_version`` is the newest version served (give the org's); ``session_ttl`` the seconds a
    session lives, measured on ``timer``; ``daily_limit`` the API calls allowed per day (the count
    never rolls over by itself: a run is shorter than a day, and tests set ``daily_used``).
    """

    def __init__(
        self,
        org: Org,
        *,
        credentials: Credentials | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int = 2000,
        daily_limit: int = 100_000,
        session_ttl: float | None = None,
        api_version: str = "60.0",
        timer: Callable[[], float] = time.monotonic,
        certificate: LocalCertificate | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be positive")
        self.org = org
        self.credentials = credentials or Credentials()
        self.page_size, self.daily_limit, self.session_ttl = page_size, daily_limit, session_ttl
        self.versions = [f"{v}.0" for v in range(31, int(float(api_version)) + 1)]
        self.faults = Faults()
        self._https = HTTPSServer(self.handle, host=host, port=port, certificate=certificate)
        self._timer = timer
        self._lock = threading.Lock()
        self._sessions: dict[str, float] = {}  # session id -> when issued, on the timer
        self._cursors: dict[str, _Cursor] = {}
        self._used = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SalesforceEmulator:
        """Issue the certificate (unless given), bind and serve in a background thread."""
        self._https.start()
        return self

    def stop(self) -> None:
        """Stop serving and close connections; a no-op when not running."""
        self._https.stop()

    def __enter__(self) -> SalesforceEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``, where logins go (once started)."""
        return self._https.url

    @property
    def instance_url(self) -> str:
        """The instance URL logins hand out: the emulator serves logins and REST alike."""
        return self._https.url

    @property
    def ca_bundle(self) -> str:
        """Path of the CA certificate a client must trust (once started)."""
        return str(self._https.certificate.ca_bundle)

    # -- for tests ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, oldest first, with the status answered (None: dropped)."""
        return self._https.requests

    @property
    def api_calls(self) -> int:
        """REST API calls (``/services/data/vNN.N/...``) received so far, answered or not;
        logins are not API calls."""
        return sum(bool(_REST.fullmatch(r.path)) for r in self.requests)

    @property
    def daily_used(self) -> int:
        """API requests counted against today's allowance; settable to start a test near it."""
        with self._lock:
            return self._used

    @daily_used.setter
    def daily_used(self, used: int) -> None:
        with self._lock:
            self._used = used

    def issue_session(self) -> str:
        """A new valid session id, as a login would give (for clients handed a session id)."""
        token = f"{ORG_ID}!{secrets.token_urlsafe(36)}"
        with self._lock:
            self._sessions[token] = self._timer()
        return token

    def expire_sessions(self) -> None:
        """Invalidate every session now, as an admin's "log out all users" does."""
        with self._lock:
            self._sessions.clear()

    # -- requests ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply | None:
        """Answer one request; None means drop the connection unanswered."""
        if latency := self.faults.latency:
            time.sleep(latency)
        rest = _REST.fullmatch(request.path)
        return self._rest(request, *rest.groups()) if rest else self._login(request)

    def _login(self, request: Request) -> Reply:
        """Logins, and the one resource outside a version: the list of versions."""
        path, post = request.path.rstrip("/"), request.method == "POST"
        if soap := _SOAP.fullmatch(path):
            return self._soap_login(soap.group(1), request.body) if post else _not_allowed()
        if path == "/services/oauth2/token":
            return self._oauth_token(request.headers, request.body) if post else _not_allowed()
        if path == "/services/data" and request.method == "GET":
            return _json(200, [_version(v) for v in self.versions])
        return _failure(Failure.of(404))

    def _rest(self, request: Request, version: str, rest: str | None) -> Reply | None:
        """A REST call: faults, then session, allowance and version, then the resource."""
        rest = rest or "/"
        locator = _LOCATOR.fullmatch(rest)
        page = 1 if rest.rstrip("/") in ("/query", "/queryAll") else None
        if locator:
            page = self._page_of(locator.group(1), int(locator.group(2)))
        fault = self.faults.take(page)
        if isinstance(fault, Drop):
            return None
        if fault is not None:
            reply = _failure(fault)
        elif not self._authenticated(request.headers):
            reply = _failure(Failure.of(401))
        elif not self._admit():
            reply = _failure(Failure.of(403))
        elif version not in self.versions:
            reply = _failure(Failure.of(404))
        else:
            try:
                reply = self._route(request.method, rest, request.query, request.body, version)
            except SalesforceError as exc:
                reply = _failure(exc)
        usage = f"api-usage={self.daily_used}/{self.daily_limit}"
        return Reply(reply.status, reply.body, reply.content_type, {"Sforce-Limit-Info": usage})

    def _route(self, method: str, rest: str, query: str, body: bytes, version: str) -> Reply:
        parts = [p for p in rest.split("/") if p]
        get = method == "GET"
        if get and parts in (["query"], ["queryAll"]):
            soql = parse_qs(query).get("q", [""])[0]
            return self._first_page(soql, parts[0] == "queryAll", version)
        if get and len(parts) == 2 and parts[0] in ("query", "queryAll"):
            return self._next_page(parts[1], version)
        if get and parts == ["limits"]:
            remaining = max(self.daily_limit - self.daily_used, 0)
            return _json(
                200, {"DailyApiRequests": {"Max": self.daily_limit, "Remaining": remaining}}
            )
        if parts[:1] != ["sobjects"]:
            return _failure(Failure.of(404))
        if get and len(parts) == 1:
            return _json(200, self.org.global_describe())
        if get and len(parts) == 3 and parts[2] == "describe":
            return _json(200, self.org.describe(parts[1]))
        if method == "POST" and len(parts) == 2:
            record_id = self.org.create(parts[1], _json_object(body))
            return _json(201, {"id": record_id, "success": True, "errors": []})
        if method == "PATCH" and len(parts) == 3:
            self.org.update(parts[1], parts[2], _json_object(body))
            return Reply(204)
        return _not_allowed() if len(parts) <= 3 else _failure(Failure.of(404))

    # -- queries ----------------------------------------------------------------------------

    def _first_page(self, soql: str, include_deleted: bool, version: str) -> Reply:
        rows = self.org.query(soql, include_deleted=include_deleted)
        page_size = self.page_size
        locator = None
        if len(rows) > page_size:
            locator = "01g" + secrets.token_hex(8).upper()[:15]
            with self._lock:
                self._cursors[locator] = _Cursor(rows, page_size)
                while len(self._cursors) > _MAX_CURSORS:
                    del self._cursors[next(iter(self._cursors))]
        return self._page(rows, 0, page_size, locator, version)

    def _next_page(self, token: str, version: str) -> Reply:
        locator, _, offset = token.rpartition("-")
        with self._lock:
            cursor = self._cursors.get(locator)
        if cursor is None or not offset.isdigit() or int(offset) > len(cursor.rows):
            return _failure(Failure.of(400))
        reply = self._page(cursor.rows, int(offset), cursor.page_size, locator, version)
        if int(offset) + cursor.page_size >= len(cursor.rows):
            with self._lock:  # the last page: Salesforce closes the cursor
                self._cursors.pop(locator, None)
        return reply

    def _page_of(self, locator: str, offset: int) -> int | None:
        with self._lock:
            cursor = self._cursors.get(locator)
        return offset // cursor.page_size + 1 if cursor else None

    @staticmethod
    def _page(
        rows: list[dict[str, Any]], offset: int, size: int, locator: str | None, version: str
    ) -> Reply:
        end = offset + size
        done = end >= len(rows)
        payload: dict[str, Any] = {"totalSize": len(rows), "done": done}
        if not done:
            payload["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        payload["records"] = rows[offset:end]
        return _json(200, payload)

    # -- sessions and the allowance -----------------------------------------------------------

    def _authenticated(self, headers: Mapping[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return False
        with self._lock:
            issued = self._sessions.get(token.strip())
        if issued is None:
            return False
        return self.session_ttl is None or self._timer() - issued < self.session_ttl

    def _admit(self) -> bool:
        with self._lock:
            if self._used >= self.daily_limit:
                return False
            self._used += 1
            return True

    # -- logins -------------------------------------------------------------------------------

    def _soap_login(self, version: str, body: bytes) -> Reply:
        return soap_login(self.credentials, version, body, self.url, self.issue_session)

    def _oauth_token(self, headers: Mapping[str, str], body: bytes) -> Reply:
        return oauth_token(self.credentials, headers, body, self.url, self.issue_session)


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode())


def _failure(failure: Failure | SalesforceError) -> Reply:
    return _json(failure.status, failure.body())


def _version(version: str) -> dict[str, str]:
    return {"label": f"API {version}", "url": f"/services/data/v{version}", "version": version}


def _not_allowed() -> Reply:
    return _failure(Failure(405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed for this resource"))


def _json_object(body: bytes) -> dict[str, Any]:
    """A create's or update's body, which Salesforce wants as one JSON object."""
    try:
        value = json.loads(body or b"null")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "The request body must be a JSON object")
    return value
