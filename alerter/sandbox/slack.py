"""A local Slack Web API over plain HTTP, for the real ``slack_sdk.WebClient``.

Mocking the SDK would test our guesses about it; this fake answers what Slack answers, so the
client's request building, response parsing and retry handlers run unchanged. Point a client at
it with ``WebClient(token=..., base_url=fake.url)``. Calls may be POST or GET, with JSON, form
or query parameters, the token as ``Authorization: Bearer`` or a ``token`` form field.

- ``auth.test``; ``users.lookupByEmail`` (unknown or deactivated: ``users_not_found``);
  ``conversations.open`` with one user (``user_not_found``, ``user_disabled``).
- ``chat.postMessage`` to ``U...`` (for a bot token, the bot's DM with that user: Slack answers
  its ``D...`` id), ``D...``, ``C...`` or ``[#]name``. Refusals, with HTTP 200 as Slack sends
  them: ``channel_not_found`` (unknown, or private without the bot), ``not_in_channel`` (public
  without the bot, and no ``chat:write.public``), ``is_archived``, ``msg_too_long`` (text over
  40,000), ``invalid_blocks`` with Slack's ``errors`` (see :mod:`alerter.sandbox.blockkit`),
  ``no_text``.
  A deactivated user's id is still accepted, as Slack does (python-slack-sdk#1156).
- Every method: ``not_authed``, ``invalid_auth``, ``account_inactive`` (a revoked token) and
  ``missing_scope`` (with ``needed`` and ``provided``).

Faults armed by tests are taken by the next matching calls, in the order armed: ``rate_limit``
(HTTP 429, ``Retry-After``, ``ratelimited``), ``fail_next`` (a status and a Slack error),
``drop_next`` (the connection closed unanswered), ``delay_next`` (a late answer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from alerter.sandbox.blockkit import block_errors
from alerter.sandbox.outbox import write_numbered
from alerter.sandbox.slackwire import Refused, answer, as_received, json_reply, parse
from alerter.sandbox.tls import HTTPSServer, Reply, Request

DEFAULT_TOKEN = "xoxb-0000-fake-token"
DEFAULT_SCOPES = frozenset({"chat:write", "users:read", "users:read.email", "im:write"})
BOT_USER, BOT_ID = "U0ALERTER", "B0ALERTER"
TEAM = "T0FAKE"
MAX_TEXT = 40_000

_NEEDS = {
    "chat.postMessage": "chat:write",
    "users.lookupByEmail": "users:read.email",
    "conversations.open": "im:write",
}
_DEFAULT_ERRORS = {429: "ratelimited", 503: "service_unavailable"}
_MESSAGE = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "team": TEAM}
_AUTH_TEST = {"url": "https://fake.slack.com/", "team": "Fake", "user": "alerter", "team_id": TEAM}


@dataclass(frozen=True)
class SlackUser:
    """A workspace member; a ``deleted`` one is deactivated."""

    id: str
    email: str
    name: str = ""
    deleted: bool = False


@dataclass(frozen=True)
class SlackChannel:
    """A channel; ``member`` says whether the bot is in it."""

    id: str
    name: str
    member: bool = True
    private: bool = False
    archived: bool = False


class Received(NamedTuple):
    """One call as Slack parsed it: the method and its parameters (``blocks`` decoded, the token
    left out)."""

    method: str
    params: dict[str, Any]


@dataclass
class _Fault:
    kind: str  # "ratelimit", "fail", "drop" or "delay"
    method: str | None
    remaining: int
    status: int = 200
    error: str = ""
    seconds: float = 0.0


class SlackFake:
    """A workspace behind HTTP on 127.0.0.1. ``start()`` binds; nothing before does I/O.

    ``token`` is the bot token it accepts; ``scopes`` the scopes that token has; ``outbox``, if
    given, receives every accepted ``chat.postMessage`` as ``outbox/slack/NNNN.json``, numbered
    in arrival order after any files already there: the JSON body as received, or for a form
    body its fields as JSON with ``blocks`` decoded (the token is never written).
    """

    def __init__(
        self,
        *,
        users: Iterable[SlackUser] = (),
        channels: Iterable[SlackChannel] = (),
        token: str = DEFAULT_TOKEN,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        outbox: Path | None = None,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token, self.scopes, self.outbox = token, frozenset(scopes), outbox
        self._given = (self.token, self.scopes, self.outbox)
        self._users = {user.id: user for user in users}
        self._channels = list(channels)
        self._clock = clock
        self._http = HTTPSServer(self.handle, host=host, port=port, tls=False)
        self._lock = threading.Lock()
        self._revoked: set[str] = set()
        self._faults: list[_Fault] = []
        self._received: list[Received] = []
        self._messages: list[dict[str, Any]] = []
        self._posted_at: list[float] = []
        self._serial = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SlackFake:
        """Bind a free port and serve in a background thread."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving and close connections; a no-op when not running."""
        self._http.stop()

    def __enter__(self) -> SlackFake:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The ``base_url`` for ``WebClient``: ``http://127.0.0.1:PORT/api/`` (once started)."""
        return f"{self._http.url}/api/"

    # -- for tests ----------------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """Every call so far, oldest first, whatever it was answered (a copy)."""
        with self._lock:
            return list(self._received)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The accepted ``chat.postMessage`` parameters, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    @property
    def posted_at(self) -> list[float]:
        """When each accepted message arrived (the fake's clock, ``time.time`` by default),
        aligned with :attr:`messages`: what a delivery-delay measurement reads."""
        with self._lock:
            return list(self._posted_at)

    def calls(self, method: str) -> int:
        """How many ``method`` calls were received, answered or not."""
        return sum(call.method == method for call in self.received)

    def reset(self) -> None:
        """Forget calls, messages, faults and revocations and restore the token, scopes and
        outbox given: one running fake can serve many tests, each starting clean."""
        with self._lock:
            self.token, self.scopes, self.outbox = self._given
            states = (self._revoked, self._faults, self._received, self._messages, self._posted_at)
            for state in states:
                state.clear()

    def revoke(self, token: str) -> None:
        """Make ``token`` answer ``account_inactive``, as a bot token of an uninstalled app does."""
        with self._lock:
            self._revoked.add(token)

    def rate_limit(
        self, *, method: str | None = None, count: int = 1, retry_after: int = 1
    ) -> None:
        """Answer the next ``count`` calls (of ``method``, or any) with HTTP 429, ``Retry-After:
        retry_after`` and ``ratelimited``; whole seconds, since the SDK reads it with ``int()``."""
        self._arm(_Fault("ratelimit", method, count, 429, "ratelimited", retry_after))

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        error: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls with ``status`` and ``{"ok": false, "error": error}``
        (default: service_unavailable for 503, else internal_error); ``status=200`` gives Slack's
        ok-false-but-HTTP-200 failures such as ``fatal_error``."""
        error = error or _DEFAULT_ERRORS.get(status, "internal_error")
        self._arm(_Fault("fail", method, count, status, error))

    def drop_next(self, count: int = 1, *, method: str | None = None) -> None:
        """Close the connection without an answer on the next ``count`` calls."""
        self._arm(_Fault("drop", method, count))

    def delay_next(self, seconds: float, count: int = 1, *, method: str | None = None) -> None:
        """Answer the next ``count`` calls ``seconds`` late (and process them: a client that timed
        out cannot know whether its message was posted)."""
        self._arm(_Fault("delay", method, count, seconds=seconds))

    def _arm(self, fault: _Fault) -> None:
        if fault.remaining < 1 or fault.seconds < 0:
            raise ValueError("count must be positive and seconds not negative")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in (None, method):
                    fault.remaining -= 1
                    if not fault.remaining:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- requests -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply | None:
        """Answer one HTTP request; None closes the connection unanswered."""
        if not request.path.startswith("/api/"):
            return Reply(404, b"Not Found", "text/plain")
        method = request.path.removeprefix("/api/")
        try:
            params, token = parse(request)
        except Refused as refused:
            return answer(refused)
        with self._lock:
            self._received.append(Received(method, params))
        fault = self._take_fault(method)
        if fault and fault.kind == "drop":
            return None
        if fault and fault.kind in ("ratelimit", "fail"):
            headers = {"Retry-After": str(int(fault.seconds))} if fault.status == 429 else {}
            return json_reply({"ok": False, "error": fault.error}, fault.status, headers)
        if fault:  # a delay
            time.sleep(fault.seconds)
        try:
            self._authenticate(method, token)
            return json_reply({"ok": True, **self._call(method, params, request)})
        except Refused as refused:
            return answer(refused)

    def _authenticate(self, method: str, token: str | None) -> None:
        if not token:
            raise Refused("not_authed")
        if token in self._revoked:
            raise Refused("account_inactive")
        if token != self.token:
            raise Refused("invalid_auth")
        needed = _NEEDS.get(method)
        if needed and needed not in self.scopes:
            raise Refused("missing_scope", needed=needed, provided=",".join(sorted(self.scopes)))

    def _call(self, method: str, params: dict[str, Any], request: Request) -> dict[str, Any]:
        if method == "auth.test":
            return {**_AUTH_TEST, "user_id": BOT_USER, "bot_id": BOT_ID}
        if method == "users.lookupByEmail":
            return {"user": _user_object(self._user_by_email(str(params.get("email", ""))))}
        if method == "conversations.open":
            return {"channel": {"id": self._open(params)}}
        if method == "chat.postMessage":
            return self._post(params, request)
        raise Refused("unknown_method", req_method=method)

    def _user_by_email(self, email: str) -> SlackUser:
        for user in self._users.values():
            if user.email.lower() == email.strip().lower() and not user.deleted:
                return user
        raise Refused("users_not_found")  # deactivated users too, as Slack documents

    def _open(self, params: dict[str, Any]) -> str:
        user = self._users.get(str(params.get("users", "")))  # "U1,U2" (a group DM): not faked
        if user is None:
            raise Refused("user_not_found")
        if user.deleted:
            raise Refused("user_disabled")
        return _dm_id(user.id)

    def _conversation(self, channel: str) -> str:
        """The conversation id a message to ``channel`` lands in, or Slack's refusal."""
        if channel[:1] in ("U", "W") and channel in self._users:
            return _dm_id(channel)  # a bot token posting to a user id: the bot's DM with them
        if channel.startswith("D") and _dm_id_owner(channel, self._users):
            return channel
        name = channel.removeprefix("#")
        found = next((c for c in self._channels if name in (c.id, c.name)), None)
        if found is None or (found.private and not found.member):
            raise Refused("channel_not_found")
        if found.archived:
            raise Refused("is_archived")
        if not found.member and "chat:write.public" not in self.scopes:
            raise Refused("not_in_channel")
        return found.id

    def _post(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        conversation = self._conversation(str(params.get("channel", "")))
        text, blocks = params.get("text"), params.get("blocks")
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise Refused("msg_too_long")
        if isinstance(blocks, str):  # form-encoded blocks that are not JSON
            raise Refused("invalid_blocks_format")
        if blocks is not None and (errors := block_errors(blocks)):
            messages = [f"[ERROR] {error}" for error in errors]
            raise Refused("invalid_blocks", errors=errors, response_metadata={"messages": messages})
        if not (isinstance(text, str) and text.strip()) and not blocks:
            raise Refused("no_text")
        with self._lock:
            self._serial += 1
            ts = f"{int(self._clock())}.{self._serial:06d}"
            self._messages.append(params)
            self._posted_at.append(self._clock())
            if self.outbox is not None:  # under the lock: file numbers follow arrival order
                write_numbered(self.outbox / "slack", ".json", as_received(request, params))
        message = {**_MESSAGE, "ts": ts, "text": text or ""} | (
            {"blocks": blocks} if blocks else {}
        )
        return {"channel": conversation, "ts": ts, "message": message}


def _dm_id(user_id: str) -> str:
    return "D" + user_id[1:]


def _dm_id_owner(channel: str, users: dict[str, SlackUser]) -> SlackUser | None:
    return next((u for u in users.values() if _dm_id(u.id) == channel), None)


def _user_object(user: SlackUser) -> dict[str, Any]:
    name = user.name or user.email.split("@")[0]
    found = {"id": user.id, "team_id": TEAM, "name": name, "deleted": user.deleted}
    return {**found, "profile": {"email": user.email, "real_name": name}}
