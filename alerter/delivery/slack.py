"""Delivers rendered Slack messages with the real ``slack_sdk.WebClient``, and finds reps' ids.

The notifier only delivers: a message is rendered elsewhere, and a failure comes back as a
:class:`DeliveryError` that says whether trying again can help, so the caller decides about
retries across cycles. Within one call the SDK's own retry handlers wait out what is sure to
pass soon:

- ``RateLimitErrorRetryHandler``: HTTP 429, sleeping ``Retry-After`` plus up to 1 s of jitter;
- ``ServerErrorRetryHandler``: HTTP 500 and 503 (not 502 or 504), with backoff;
- ``ConnectionErrorRetryHandler``: ``URLError``, connection resets and closed connections.

The SDK counts attempts per call, shared by the handlers: a handler retries only while the
retries already made for that call (by any handler) are fewer than its own maximum.

How a Slack error is classified (``code`` is Slack's ``error``, or ``http_NNN`` for a 5xx without
one, ``connection_error`` or ``timeout``)::

    permanent  channel_not_found user_not_found users_not_found not_in_channel is_archived
               invalid_auth not_authed account_inactive token_revoked token_expired
               invalid_blocks invalid_blocks_format msg_too_long msg_blocks_too_long no_text
               missing_scope, and any code not listed here
    retryable  ratelimited rate_limited internal_error fatal_error service_unavailable
               request_timeout team_added_to_org; any HTTP 429 or 5xx; connection errors and
               timeouts

A retry after a timeout or a dropped connection may post a message twice: ``chat.postMessage``
has no idempotency key, and Slack may have posted before the connection failed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.error import URLError

import structlog
import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    HttpRequest,
    HttpResponse,
    RetryHandler,
    RetryIntervalCalculator,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import default_interval_calculator

from alerter.delivery.model import Delivered, DeliveryError, SlackMessage
from alerter.errors import ConfigurationError
from alerter.settings import SlackSettings

log = structlog.get_logger(__name__)

RETRYABLE_CODES = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",  # a workspace migration: "intermittently unavailable"
    }
)
# Listed for the reader; classification only needs RETRYABLE_CODES, since every other code,
# including ones Slack adds later, is permanent: retrying a request Slack refused for a reason we
# do not know would refuse again, and a retryable error is retried on every cycle.
PERMANENT_CODES = frozenset(
    {
        "channel_not_found",
        "user_not_found",
        "users_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        "missing_scope",
    }
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SlackNotifier:
    """Posts rendered Slack messages and looks up Slack user ids by email.

    No I/O until the first call. ``now`` stamps deliveries; ``monotonic`` ages the lookup cache.
    ``rate_limit_retries``, ``server_error_retries`` and ``connection_error_retries`` are the
    SDK handlers' maximums (the SDK's own defaults are 1 each, and the rate-limit handler is off
    unless asked for); ``retry_interval`` spaces server and connection retries (default: the
    SDK's backoff, 0.5 s x 2^n plus up to 1 s of jitter).
    """

    def __init__(
        self,
        settings: SlackSettings,
        *,
        now: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        rate_limit_retries: int = 2,
        server_error_retries: int = 1,
        connection_error_retries: int = 1,
        retry_interval: RetryIntervalCalculator = default_interval_calculator,
    ) -> None:
        token = settings.token.get_secret_value().strip() if settings.token else ""
        if not token:
            raise ConfigurationError("Slack needs a bot token: set ALERTER_SLACK__TOKEN")
        self._rate_limits = _CountingRateLimitHandler(max_retry_count=rate_limit_retries)
        handlers: list[RetryHandler] = [
            self._rate_limits,
            ServerErrorRetryHandler(server_error_retries, retry_interval),
            ConnectionErrorRetryHandler(connection_error_retries, retry_interval),
        ]
        self._client = WebClient(
            token=token,
            base_url=settings.base_url,
            timeout=settings.timeout,  # type: ignore[arg-type]  # urllib takes float seconds
            retry_handlers=handlers,
        )
        self._now, self._monotonic = now, monotonic
        self._map_file, self._ttl = settings.user_map_file, settings.lookup_ttl
        self._user_map: dict[str, str] | None = None
        self._cache: dict[str, tuple[str | None, float]] = {}  # email -> (user id, looked up at)
        self._lock = threading.Lock()

    @property
    def rate_limited(self) -> int:
        """How many answers were HTTP 429 so far, waited out or not (for the metrics)."""
        return self._rate_limits.seen

    def send(self, message: SlackMessage) -> Delivered:
        """Post ``message`` to its target (a user id, for the bot's DM with that user; a channel
        id or ``#name``), with link and media previews off: a nudge links to Salesforce, and an
        unfurl of a login page is noise."""
        try:
            response = self._client.chat_postMessage(
                channel=message.target,
                text=message.text,
                blocks=message.blocks or None,
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackClientError, OSError, HTTPException) as error:
            failure = _failure("chat.postMessage", error)
            log.warning(
                "slack.send_failed",
                target=message.target,
                code=failure.code,
                retryable=failure.retryable,
            )
            # Not chained: the SDK's frames hold the Authorization header in their locals, and
            # a traceback rendered with locals (structlog's rich tracebacks) would print it.
            raise failure from None
        return Delivered(
            at=self._now(), detail=f"ts={response['ts']} channel={response['channel']}"
        )

    def user_id_for_email(self, email: str) -> str | None:
        """The Slack user id for a Salesforce email: from the user map if it names the email,
        else from ``users.lookupByEmail``, cached for ``lookup_ttl`` seconds (a "no such user"
        too, so an unknown rep costs one call per TTL, not one per nudge). None when Slack has
        no active user with that email."""
        key = email.strip().lower()
        if (mapped := self._mapped().get(key)) is not None:
            return mapped
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and self._monotonic() - cached[1] < self._ttl:
            return cached[0]
        user_id = self._look_up(email.strip())
        with self._lock:
            self._cache[key] = (user_id, self._monotonic())
        return user_id

    def _look_up(self, email: str) -> str | None:
        try:
            user = self._client.users_lookupByEmail(email=email)["user"]
        except (SlackClientError, OSError, HTTPException) as error:
            failure = _failure("users.lookupByEmail", error)
            if failure.code == "users_not_found":  # also what Slack says for deactivated users
                return None
            log.warning("slack.lookup_failed", code=failure.code, retryable=failure.retryable)
            raise failure from None  # not chained: see send()
        return None if user.get("deleted") else str(user["id"])

    def _mapped(self) -> dict[str, str]:
        """The user map, read on first use (a bad file fails the first lookup, not start-up
        of a process that may never look anyone up)."""
        with self._lock:
            if self._user_map is None:
                self._user_map = load_user_map(self._map_file) if self._map_file else {}
            return self._user_map


class _CountingRateLimitHandler(RateLimitErrorRetryHandler):
    """The SDK's 429 handler (wait out ``Retry-After``), counting every 429 it is shown, also
    past its retries: the handler is asked about each 429 before any other."""

    seen = 0

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None and response.status_code == 429:
            self.seen += 1
        return super().can_retry(state=state, request=request, response=response, error=error)


def load_user_map(path: Path) -> dict[str, str]:
    """Read a YAML or JSON mapping of email to Slack user id (``{"rep@x.example": "U123"}``),
    keyed by lower-cased email since Salesforce and Slack may spell an address differently."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except OSError as error:
        raise ConfigurationError(
            f"{path}: cannot read the Slack user map: {error.strerror}"
        ) from None
    except (ValueError, yaml.YAMLError) as error:
        raise ConfigurationError(f"{path}: not valid YAML or JSON: {error}") from None
    if data is None:  # an empty file: no overrides
        return {}
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{path}: expected a mapping of email to Slack user id")
    users: dict[str, str] = {}
    for email, user_id in data.items():
        key = str(email).strip().lower()
        if "@" not in key:
            raise ConfigurationError(f"{path}: {email!r} is not an email address")
        if not isinstance(user_id, str) or user_id[:1] not in ("U", "W") or not user_id.isalnum():
            raise ConfigurationError(f"{path}: {email!r} maps to {user_id!r}, not a user id (U...)")
        if users.get(key, user_id) != user_id:
            raise ConfigurationError(f"{path}: {email!r} is mapped twice, to different users")
        users[key] = user_id
    return users


def _failure(method: str, error: Exception) -> DeliveryError:
    """The :class:`DeliveryError` for an exception from the SDK, classified."""
    if isinstance(error, SlackApiError):
        status = int(error.response.status_code)
        data: Any = error.response.data
        code = data.get("error") if isinstance(data, dict) else None
        if not isinstance(code, str) or not code.replace("_", "").isalpha():
            code = f"http_{status}"  # e.g. an HTML error page from a proxy
        retryable = status == 429 or status >= 500 or code in RETRYABLE_CODES
        detail = f" (HTTP {status})" if status != 200 else ""
        if status == 429:
            headers = {k.lower(): v for k, v in (error.response.headers or {}).items()}
            retry_after = headers.get("retry-after", "?")
            detail = f" (HTTP 429, Retry-After {retry_after} s) after the SDK's retries"
        if isinstance(data, dict) and isinstance(data.get("errors"), list):
            detail += ": " + "; ".join(str(item) for item in data["errors"])
        if code == "missing_scope" and isinstance(data, dict):
            detail += f": needs {data.get('needed')}, has {data.get('provided')}"
        return DeliveryError(
            f"Slack {method} failed: {code}{detail}", retryable=retryable, code=code
        )
    if isinstance(error, SlackClientError):  # the SDK refused to build the request
        return DeliveryError(f"Slack {method}: {error}", retryable=False, code="request_error")
    reason = error.reason if isinstance(error, URLError) else error
    code = "timeout" if isinstance(reason, TimeoutError) else "connection_error"
    what = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else reason
    return DeliveryError(f"Slack {method} failed: {code} ({what})", retryable=True, code=code)
