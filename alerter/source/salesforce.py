"""The Salesforce org, read through the real simple-salesforce client.

Connects with whichever credentials the settings hold, streams each rule's records page by
page, fetches owners once per cycle for the Ids seen, keeps count of the API calls it spends
and of the org's remaining daily allowance, and turns the client's exceptions into ours
(``alerter.errors``): retryable, rule-breaking or fatal.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import requests
import structlog
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from alerter.errors import (
    BudgetExhausted,
    ConfigurationError,
    RuleQueryError,
    SourceError,
    SourceUnavailable,
)
from alerter.records import Record
from alerter.rule import Rule
from alerter.settings import SalesforceSettings
from alerter.source.session import CallCounter, make_session
from alerter.source.soql import FieldTypes, ids_query, rule_query

log = structlog.get_logger(__name__)
T = TypeVar("T")

ID_CHUNK = 200
"""Ids per ``Id IN (...)`` query: well inside SOQL's 100,000-character limit."""
OWNER_FIELDS = ("Id", "Name", "Email", "IsActive", "ManagerId", "TimeZoneSidKey")
QUEUE_FIELDS = ("Id", "Name", "DeveloperName", "Type", "Email")


class SalesforceSource:
    """One org. ``connect()`` logs in; nothing in the constructor does I/O."""

    def __init__(
        self, settings: SalesforceSettings, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.counter = CallCounter()
        self._client: Salesforce | None = None
        self._describes: dict[str, dict[str, Any]] = {}
        self._retrying = _retrying(settings)
        self._monotonic = monotonic
        self._owners: dict[str, tuple[Record, float]] = {}  # Id -> (User or Group, read at)

    # -- connection -------------------------------------------------------------------------

    def connect(self) -> None:
        """Log in with the configured credentials (raises ConfigurationError or SourceError)."""
        settings = self.settings
        session = make_session(
            timeout=settings.timeout,
            ca_bundle=settings.ca_bundle,
            domain=settings.domain,
            login_url=settings.login_url,
            counter=self.counter,
        )
        try:
            self._client = Salesforce(
                session=session,
                version=settings.api_version,
                domain=settings.domain,
                **_credentials(settings),
            )
        except SalesforceAuthenticationFailed as exc:
            raise SourceError(f"Salesforce login failed: {exc.code}: {exc.auth_message}") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise SourceUnavailable(f"cannot reach Salesforce to log in: {exc}") from None
        log.info(
            "salesforce.connected", instance=self.client.sf_instance, auth=self.client.auth_type
        )

    @property
    def client(self) -> Salesforce:
        """The logged-in client."""
        if self._client is None:
            raise SourceError("not connected: call connect() first")
        return self._client

    @property
    def instance_url(self) -> str:
        """``https://<instance>``, where the records' pages are (once connected)."""
        return f"https://{self.client.sf_instance}"

    # -- reading ----------------------------------------------------------------------------

    def rule_records(
        self, rule: Rule, now: datetime, ids: Sequence[str] = (), shown: Iterable[str] = ()
    ) -> Iterator[Record]:
        """The rule's records with their touches, streamed page by page (only ``ids`` if given,
        in chunks). ``shown`` are fields messages show (``Company``, ``Owner.Title``): those
        the org has are selected too; one it lacks is left out (and shows empty) rather than
        failing the rule's query."""
        try:
            types = self.field_types(rule.object)
            extra = [path for path in shown if self.lacks(rule.object, path) is None]
        except SourceError as exc:
            if exc.retryable:
                raise
            raise RuleQueryError(rule.id, str(exc)) from None
        chunks = [ids[i : i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)] if ids else [()]
        for chunk in chunks:
            soql = rule_query(rule, now, ids=chunk, field_types=types, shown=extra)
            yield from self._query(soql, rule_id=rule.id)

    def records_by_id(
        self, object_name: str, fields: Sequence[str], ids: Sequence[str]
    ) -> list[Record]:
        """Records of one object by Id, in chunked queries (owners, managers, queues)."""
        unique = sorted(set(ids))
        found: list[Record] = []
        for start in range(0, len(unique), ID_CHUNK):
            found += self._query(ids_query(object_name, fields, unique[start : start + ID_CHUNK]))
        return found

    def owners(self, ids: Sequence[str]) -> list[Record]:
        """Users (with their managers, up to the skip level) and queues for the owner Ids;
        those read less than ``owner_cache`` seconds ago are not read again."""
        users = self._people("User", OWNER_FIELDS, [i for i in ids if i.startswith("005")])
        queues = self._people("Group", QUEUE_FIELDS, [i for i in ids if i.startswith("00G")])
        seen = {u["Id"] for u in users}
        for _ in range(2):  # managers, then skip-level managers
            wanted = {u["ManagerId"] for u in users if u.get("ManagerId")} - seen
            more = self._people("User", OWNER_FIELDS, sorted(wanted))
            seen |= {u["Id"] for u in more}
            users += more
        return users + queues

    def _people(self, object_name: str, fields: Sequence[str], ids: Sequence[str]) -> list[Record]:
        """Records by Id, from the owner cache while fresh, else read (and cached)."""
        now, ttl = self._monotonic(), self.settings.owner_cache
        fresh: list[Record] = []
        stale: list[str] = []
        for record_id in ids:
            cached = self._owners.get(record_id)
            if cached is not None and now - cached[1] < ttl:
                fresh.append(cached[0])
            else:
                stale.append(record_id)
        read = self.records_by_id(object_name, fields, stale)
        for record in read:
            self._owners[str(record["Id"])] = (record, now)
        return fresh + read

    def describe(self, object_name: str) -> dict[str, Any]:
        """The object's describe, fetched once per source."""
        if object_name not in self._describes:
            try:
                self._describes[object_name] = self._call(
                    lambda: getattr(self.client, object_name).describe()
                )
            except SalesforceResourceNotFound:
                raise SourceError(f"the org has no object {object_name}") from None
        return self._describes[object_name]

    def field_types(self, object_name: str) -> FieldTypes:
        """Field name -> type for an object (plain fields only)."""
        return {f["name"]: f["type"] for f in self.describe(object_name).get("fields", [])}

    def lacks(self, object_name: str, path: str) -> str | None:
        """Why ``path`` (``Field`` or ``Parent.Field``) does not exist on the object, or None."""
        objects = [object_name]
        *parents, last = path.split(".")
        for part in parents:
            targets: list[str] = []
            for name in objects:
                fields = self.describe(name).get("fields", [])
                for field in fields:
                    if str(field.get("relationshipName") or "").casefold() == part.casefold():
                        targets += list(field.get("referenceTo") or [])
            if not targets:
                return f"{' or '.join(objects)} has no relationship {part} (in {path})"
            objects = targets
        for name in objects:
            names = {str(f.get("name")).casefold() for f in self.describe(name).get("fields", [])}
            if last.casefold() in names:
                return None
        return f"{' or '.join(objects)} has no field {last}"

    # -- budget -----------------------------------------------------------------------------

    @property
    def daily_usage(self) -> tuple[int, int] | None:
        """(used, max) daily API requests, from the last ``Sforce-Limit-Info`` header."""
        return self.counter.daily_usage

    def check_budget(self) -> None:
        """Refuse to spend calls when the org's remaining allowance is below the reserve (asking
        the org once, with one call, when no answer has told us yet)."""
        if self.daily_usage is None:
            self._call(self.client.limits)
        usage = self.daily_usage
        if usage is not None and usage[1] - usage[0] < self.settings.api_reserve:
            raise BudgetExhausted(
                f"the org has {usage[1] - usage[0]} API calls left today, below the reserve of "
                f"{self.settings.api_reserve}: not polling, to leave them to other integrations"
            )

    # -- plumbing ---------------------------------------------------------------------------

    def _query(self, soql: str, rule_id: str | None = None) -> Iterator[Record]:
        """Stream a query's records page by page. Each page is its own retried call: a failure
        on page 5 resumes at page 5 from the query's cursor, so nothing is read twice."""
        page = self._call(lambda: self.client.query(soql), rule_id)
        while True:
            yield from page["records"]
            if page.get("done", True):
                return
            next_page = functools.partial(
                self.client.query_more, page["nextRecordsUrl"], identifier_is_url=True
            )
            page = self._call(next_page, rule_id)

    def _call(self, call: Callable[[], T], rule_id: str | None = None) -> T:
        """One client call, retried with back-off and jitter while the failure may pass."""
        return self._retrying(lambda: self._translated(call, rule_id))

    def _translated(self, call: Callable[[], T], rule_id: str | None) -> T:
        """Run one client call, turning its failures into ours."""
        try:
            return call()
        except SalesforceMalformedRequest as exc:
            message = _salesforce_message(exc)
            if rule_id is not None:
                raise RuleQueryError(rule_id, message) from None
            raise SourceError(message) from None
        except SalesforceExpiredSession as exc:
            raise SourceError(
                f"session expired and could not be renewed: {_salesforce_message(exc)}"
            ) from None
        except SalesforceRefusedRequest as exc:
            message = _salesforce_message(exc)
            if "REQUEST_LIMIT_EXCEEDED" in message:
                raise SourceUnavailable(message) from None
            raise SourceError(message) from None
        except SalesforceError as exc:  # 5xx and the rest
            raise SourceUnavailable(_salesforce_message(exc)) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise SourceUnavailable(f"Salesforce did not answer: {type(exc).__name__}") from None


def _retrying(settings: SalesforceSettings) -> Retrying:
    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("source.retrying", attempt=state.attempt_number, error=str(error))

    return Retrying(
        retry=retry_if_exception_type(SourceUnavailable),
        stop=stop_after_attempt(settings.retry_attempts),
        wait=wait_random_exponential(multiplier=settings.retry_wait, max=60),  # full jitter
        before_sleep=before_sleep,
        reraise=True,
    )


def _credentials(settings: SalesforceSettings) -> dict[str, Any]:
    """The simple-salesforce keyword arguments for the configured kind of login."""
    s = settings

    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    if s.session_id is not None and s.instance_url:
        return {"session_id": secret(s.session_id), "instance_url": s.instance_url}
    if s.consumer_key and s.private_key_file and s.username:
        return {
            "username": s.username,
            "consumer_key": s.consumer_key,
            "privatekey_file": str(s.private_key_file),
        }
    if s.consumer_key and s.consumer_secret and s.username and s.password:
        password = (secret(s.password) or "") + (secret(s.security_token) or "")
        return {
            "username": s.username,
            "password": password,
            "consumer_key": s.consumer_key,
            "consumer_secret": secret(s.consumer_secret),
        }
    if s.consumer_key and s.consumer_secret:
        return {"consumer_key": s.consumer_key, "consumer_secret": secret(s.consumer_secret)}
    if s.username and s.password:
        return {
            "username": s.username,
            "password": secret(s.password),
            "security_token": secret(s.security_token) or "",
        }
    raise ConfigurationError(
        "no Salesforce credentials: set ALERTER_SALESFORCE__USERNAME and __PASSWORD (and "
        "__SECURITY_TOKEN), or __CONSUMER_KEY with __PRIVATE_KEY_FILE or __CONSUMER_SECRET, or "
        "__SESSION_ID with __INSTANCE_URL"
    )


def _salesforce_message(exc: SalesforceError) -> str:
    """``ERROR_CODE: message`` from the error body Salesforce sent."""
    content: Any = exc.content
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        first = content[0]
        return f"{first.get('errorCode', 'ERROR')}: {first.get('message', '')}".strip()
    return f"HTTP {exc.status}: {str(content)[:200]}"
