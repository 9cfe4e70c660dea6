"""The Slack notifier through the real ``slack_sdk.WebClient``, against the local Slack fake.

One fake serves the module (``reset()`` before each test), since starting a server per test
would cost more than the tests. Retries run without waits (a zero retry interval) except where
a test is about the wait; the SDK's rate-limit handler always adds up to 1 s of jitter, so only
one test waits out a 429.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from pydantic import SecretStr
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator

from alerter.delivery.model import Delivered, DeliveryError, SlackMessage
from alerter.delivery.slack import SlackNotifier
from alerter.errors import ConfigurationError
from alerter.sandbox.slack import DEFAULT_TOKEN, SlackChannel, SlackFake, SlackUser
from alerter.settings import SlackSettings

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
REP = SlackUser("U0REP", "rep@salesforce.example", "Rep")
GONE = SlackUser("U0GONE", "gone@salesforce.example", "Gone", deleted=True)
CHANNELS = [
    SlackChannel("C0SLA", "sla-alerts"),
    SlackChannel("C0OUTSIDE", "outside", member=False),
    SlackChannel("C0OLD", "old", archived=True),
    SlackChannel("C0SECRET", "secret", member=False, private=True),
]
BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "Lead waiting 2 hours"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*Acme* <https://sf.example/00Q1|open>"},
    },
]


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def running() -> Iterator[SlackFake]:
    with SlackFake(users=[REP, GONE], channels=CHANNELS) as fake:
        yield fake


@pytest.fixture
def fake(running: SlackFake) -> SlackFake:
    running.reset()
    return running


def notifier(
    fake: SlackFake,
    *,
    token: str = DEFAULT_TOKEN,
    clock: FakeClock | None = None,
    timeout: float = 5.0,
    **options: Any,
) -> SlackNotifier:
    """A notifier for ``fake`` that retries without waiting; ``options`` go to the notifier,
    or to the settings for ``user_map_file`` and ``lookup_ttl``."""
    settings = {k: options.pop(k) for k in ("user_map_file", "lookup_ttl") if k in options}
    return SlackNotifier(
        SlackSettings(token=SecretStr(token), base_url=fake.url, timeout=timeout, **settings),
        now=lambda: NOW,
        monotonic=clock or FakeClock(),
        retry_interval=FixedValueRetryIntervalCalculator(0.0),
        **options,
    )


def refused(fake: SlackFake, message: SlackMessage, **options: Any) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        notifier(fake, **options).send(message)
    return caught.value


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str) -> dict[str, Any]:
    label = {"type": "plain_text", "text": text}
    return {"type": "actions", "elements": [{"type": "button", "text": label, "value": "x"}]}


class TestSend:
    def test_dm_by_user_id_posts_to_the_bots_dm(self, fake: SlackFake) -> None:
        """A user id as target is posted as is, and Slack answers with the DM's id."""
        delivered = notifier(fake).send(SlackMessage("U0REP", "Lead waiting", BLOCKS))
        assert delivered.at == NOW
        assert delivered.detail.startswith("ts=")
        assert delivered.detail.endswith(" channel=D0REP")
        assert fake.messages == [
            {
                "channel": "U0REP",
                "text": "Lead waiting",
                "blocks": BLOCKS,
                "unfurl_links": False,
                "unfurl_media": False,
            }
        ]

    @pytest.mark.parametrize("target", ["C0SLA", "#sla-alerts", "sla-alerts"])
    def test_channel_by_id_or_name(self, fake: SlackFake, target: str) -> None:
        """A channel is reached by id or by name, and the delivery names its id."""
        delivered = notifier(fake).send(SlackMessage(target, "Queue has 3 leads waiting"))
        assert delivered.detail.endswith(" channel=C0SLA")
        assert fake.received[0].params["channel"] == target

    def test_no_blocks_sends_text_only(self, fake: SlackFake) -> None:
        """A message without blocks sends no ``blocks`` field at all."""
        notifier(fake).send(SlackMessage("C0SLA", "plain"))
        assert "blocks" not in fake.messages[0]

    def test_each_message_gets_its_own_ts(self, fake: SlackFake) -> None:
        """Two deliveries report two different message timestamps."""
        slack = notifier(fake)
        first, second = (slack.send(SlackMessage("C0SLA", text)) for text in ("a", "b"))
        assert first.detail != second.detail


class TestPermanentErrors:
    @pytest.mark.parametrize(
        ("target", "code"),
        [
            ("C0NOPE", "channel_not_found"),
            ("U0NOPE", "channel_not_found"),
            ("#secret", "channel_not_found"),
            ("#outside", "not_in_channel"),
            ("C0OLD", "is_archived"),
        ],
    )
    def test_unreachable_targets(self, fake: SlackFake, target: str, code: str) -> None:
        """Targets Slack will never accept fail permanently, with Slack's code."""
        error = refused(fake, SlackMessage(target, "hello"))
        assert (error.code, error.retryable) == (code, False)

    def test_text_over_40000_characters(self, fake: SlackFake) -> None:
        """Text past Slack's 40,000 characters is msg_too_long; 40,000 exactly is accepted."""
        notifier(fake).send(SlackMessage("C0SLA", "x" * 40_000))
        error = refused(fake, SlackMessage("C0SLA", "x" * 40_001))
        assert (error.code, error.retryable) == ("msg_too_long", False)

    def test_no_text_and_no_blocks(self, fake: SlackFake) -> None:
        """An empty message is no_text (the SDK also warns before sending it)."""
        with pytest.warns(UserWarning, match="text"):
            error = refused(fake, SlackMessage("C0SLA", ""))
        assert (error.code, error.retryable) == ("no_text", False)

    def test_wrong_token(self, fake: SlackFake) -> None:
        """A token Slack does not know is invalid_auth."""
        error = refused(fake, SlackMessage("C0SLA", "hi"), token="xoxb-wrong")
        assert (error.code, error.retryable) == ("invalid_auth", False)

    def test_revoked_token(self, fake: SlackFake) -> None:
        """The token of an uninstalled app is account_inactive."""
        fake.revoke(DEFAULT_TOKEN)
        error = refused(fake, SlackMessage("C0SLA", "hi"))
        assert (error.code, error.retryable) == ("account_inactive", False)

    def test_missing_scope_names_the_scope(self, fake: SlackFake) -> None:
        """A token without chat:write is missing_scope, and the message says which scope."""
        fake.scopes = frozenset({"users:read.email"})
        error = refused(fake, SlackMessage("C0SLA", "hi"))
        assert (error.code, error.retryable) == ("missing_scope", False)
        assert "needs chat:write" in str(error)

    def test_failure_is_logged_once_without_the_token(
        self, fake: SlackFake, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A failed send logs one line with the code, and the token appears nowhere."""
        with structlog.testing.capture_logs() as logs:
            error = refused(fake, SlackMessage("#outside", "hi"))
        assert logs == [
            {
                "event": "slack.send_failed",
                "log_level": "warning",
                "target": "#outside",
                "code": "not_in_channel",
                "retryable": False,
            }
        ]
        for text in (str(error), repr(error.args), caplog.text, repr(logs)):
            assert DEFAULT_TOKEN not in text
        assert error.__cause__ is None
        assert error.__suppress_context__

    def test_missing_token_is_a_configuration_error(self) -> None:
        """A notifier without a token cannot work, and says so before any call."""
        with pytest.raises(ConfigurationError, match="ALERTER_SLACK__TOKEN"):
            SlackNotifier(SlackSettings(token=SecretStr("  ")))


class TestBlockKitLimits:
    @pytest.mark.parametrize(
        "blocks",
        [
            [section("x")] * 50,
            [section("x" * 3000)],
            [{"type": "header", "text": {"type": "plain_text", "text": "x" * 150}}],
            [button("x" * 75)],
            [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3000}]}],
        ],
        ids=["50 blocks", "section 3000", "header 150", "button 75", "context 3000"],
    )
    def test_at_the_limit_is_accepted(self, fake: SlackFake, blocks: list[dict[str, Any]]) -> None:
        """Blocks exactly at each limit are delivered."""
        assert isinstance(notifier(fake).send(SlackMessage("C0SLA", "t", blocks)), Delivered)

    @pytest.mark.parametrize(
        ("blocks", "detail"),
        [
            ([section("x")] * 51, "no more than 50 items allowed [json-pointer:/blocks]"),
            (
                [section("x"), section("x" * 3001)],
                "must be less than 3001 characters [json-pointer:/blocks/1/text/text]",
            ),
            (
                [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
                "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
            ),
            (
                [button("x" * 76)],
                "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
            ),
            (
                [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3001}]}],
                "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/text]",
            ),
            (
                [{"type": "header", "text": {"type": "mrkdwn", "text": "*bold*"}}],
                "must be a valid enum value [json-pointer:/blocks/0/text/type]",
            ),
        ],
        ids=["51 blocks", "section 3001", "header 151", "button 76", "context 3001", "mrkdwn"],
    )
    def test_past_the_limit_is_invalid_blocks(
        self, fake: SlackFake, blocks: list[dict[str, Any]], detail: str
    ) -> None:
        """Blocks past a limit are invalid_blocks, permanent, with Slack's error detail."""
        error = refused(fake, SlackMessage("C0SLA", "t", blocks))
        assert (error.code, error.retryable) == ("invalid_blocks", False)
        assert str(error).endswith(detail)
        assert fake.messages == []


class TestRetries:
    def test_rate_limit_is_waited_out_and_delivered_once(self, fake: SlackFake) -> None:
        """A 429 is waited out for its Retry-After, and the message is then posted once."""
        fake.rate_limit(method="chat.postMessage", count=1, retry_after=1)
        started = time.monotonic()
        sender = notifier(fake, rate_limit_retries=2)
        sender.send(SlackMessage("C0SLA", "hi"))
        assert time.monotonic() - started >= 1.0
        assert (fake.calls("chat.postMessage"), len(fake.messages)) == (2, 1)
        assert sender.rate_limited == 1

    def test_more_429s_than_retries_is_retryable(self, fake: SlackFake) -> None:
        """A rate limit that outlasts the retries (none here, to spare the SDK's jitter) is a
        retryable ratelimited error."""
        fake.rate_limit(method="chat.postMessage", count=1, retry_after=30)
        sender = notifier(fake, rate_limit_retries=0)
        with pytest.raises(DeliveryError) as caught:
            sender.send(SlackMessage("C0SLA", "hi"))
        error = caught.value
        assert sender.rate_limited == 1
        assert (error.code, error.retryable) == ("ratelimited", True)
        assert "(HTTP 429, Retry-After 30 s)" in str(error)
        assert (fake.calls("chat.postMessage"), fake.messages) == (1, [])

    @pytest.mark.parametrize("status", [500, 503])
    def test_server_errors_are_retried_then_delivered(self, fake: SlackFake, status: int) -> None:
        """A 500 or 503 is retried by the SDK and the message is then delivered."""
        fake.fail_next(1, status=status)
        notifier(fake, server_error_retries=1).send(SlackMessage("C0SLA", "hi"))
        assert (fake.calls("chat.postMessage"), len(fake.messages)) == (2, 1)

    def test_server_errors_past_the_retries_are_retryable(self, fake: SlackFake) -> None:
        """5xx answers that outlast the retries are retryable, with Slack's code."""
        fake.fail_next(2, status=503)
        error = refused(fake, SlackMessage("C0SLA", "hi"), server_error_retries=1)
        assert (error.code, error.retryable) == ("service_unavailable", True)

    def test_502_is_retryable_though_the_sdk_does_not_retry_it(self, fake: SlackFake) -> None:
        """The SDK retries only 500 and 503; a 502 comes back at once, retryable."""
        fake.fail_next(1, status=502)
        error = refused(fake, SlackMessage("C0SLA", "hi"), server_error_retries=3)
        assert error.retryable
        assert "HTTP 502" in str(error)
        assert fake.calls("chat.postMessage") == 1

    @pytest.mark.parametrize(
        "code", ["internal_error", "fatal_error", "service_unavailable", "request_timeout"]
    )
    def test_transient_codes_with_http_200_are_retryable(self, fake: SlackFake, code: str) -> None:
        """Slack's transient codes are retryable even when they come with HTTP 200."""
        fake.fail_next(1, status=200, error=code)
        error = refused(fake, SlackMessage("C0SLA", "hi"))
        assert (error.code, error.retryable) == (code, True)

    def test_dropped_connection_is_retried(self, fake: SlackFake) -> None:
        """A connection closed without an answer is retried and the message delivered."""
        fake.drop_next(1)
        notifier(fake, connection_error_retries=1).send(SlackMessage("C0SLA", "hi"))
        assert (fake.calls("chat.postMessage"), len(fake.messages)) == (2, 1)

    def test_dropped_connections_past_the_retries_are_retryable(self, fake: SlackFake) -> None:
        """Connections dropped more often than retried are a retryable connection_error."""
        fake.drop_next(2)
        error = refused(fake, SlackMessage("C0SLA", "hi"), connection_error_retries=1)
        assert (error.code, error.retryable) == ("connection_error", True)

    def test_timeout_is_retryable_and_may_have_posted(self, fake: SlackFake) -> None:
        """A timeout is retryable, not retried by the SDK, and Slack may have posted anyway."""
        fake.delay_next(0.15)
        error = refused(fake, SlackMessage("C0SLA", "hi"), timeout=0.05)
        assert (error.code, error.retryable) == ("timeout", True)
        deadline = time.monotonic() + 2
        while not fake.messages and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (fake.calls("chat.postMessage"), len(fake.messages)) == (1, 1)


class TestLookup:
    def test_found(self, fake: SlackFake) -> None:
        """An active user's email gives their id."""
        assert notifier(fake).user_id_for_email("rep@salesforce.example") == "U0REP"
        assert fake.received[0].params == {"email": "rep@salesforce.example"}

    @pytest.mark.parametrize("email", ["nobody@salesforce.example", "gone@salesforce.example"])
    def test_unknown_or_deactivated_is_none(self, fake: SlackFake, email: str) -> None:
        """An email with no active Slack user gives None, not an error."""
        assert notifier(fake).user_id_for_email(email) is None

    def test_cached_for_the_ttl(self, fake: SlackFake) -> None:
        """Lookups within the TTL, in any letter case, cost one call; at the TTL, another."""
        clock = FakeClock()
        slack = notifier(fake, clock=clock, lookup_ttl=60)
        assert slack.user_id_for_email("rep@salesforce.example") == "U0REP"
        clock.now += 59.9
        assert slack.user_id_for_email(" REP@Salesforce.example") == "U0REP"
        assert fake.calls("users.lookupByEmail") == 1
        clock.now += 0.1
        assert slack.user_id_for_email("rep@salesforce.example") == "U0REP"
        assert fake.calls("users.lookupByEmail") == 2

    def test_not_found_is_cached_too(self, fake: SlackFake) -> None:
        """An unknown email is asked about once per TTL, not once per nudge."""
        slack = notifier(fake)
        assert [slack.user_id_for_email("nobody@x.example") for _ in range(3)] == [None] * 3
        assert fake.calls("users.lookupByEmail") == 1

    def test_transient_failure_raises_and_is_not_cached(self, fake: SlackFake) -> None:
        """A failed lookup is a retryable error, and the next lookup asks Slack again."""
        fake.fail_next(1, status=503, method="users.lookupByEmail")
        slack = notifier(fake, server_error_retries=0)
        with pytest.raises(DeliveryError) as caught:
            slack.user_id_for_email("rep@salesforce.example")
        assert (caught.value.code, caught.value.retryable) == ("service_unavailable", True)
        assert slack.user_id_for_email("rep@salesforce.example") == "U0REP"

    def test_missing_scope_is_permanent(self, fake: SlackFake) -> None:
        """A token without users:read.email cannot look anyone up: a permanent error."""
        fake.scopes = frozenset({"chat:write"})
        with pytest.raises(DeliveryError) as caught:
            notifier(fake).user_id_for_email("rep@salesforce.example")
        assert (caught.value.code, caught.value.retryable) == ("missing_scope", False)


class TestUserMap:
    def test_map_wins_over_lookup_whatever_the_case(self, fake: SlackFake, tmp_path: Path) -> None:
        """Mapped emails, matched in any letter case, never reach Slack."""
        path = tmp_path / "users.yaml"
        path.write_text("REP@Salesforce.example: U0OTHER\nrep2@salesforce.example: W0ENT\n")
        slack = notifier(fake, user_map_file=path)
        assert slack.user_id_for_email("rep@salesforce.EXAMPLE") == "U0OTHER"
        assert slack.user_id_for_email("Rep2@salesforce.example") == "W0ENT"
        assert fake.received == []

    def test_unmapped_emails_are_looked_up(self, fake: SlackFake, tmp_path: Path) -> None:
        """An email the JSON map does not name goes to users.lookupByEmail."""
        path = tmp_path / "users.json"
        path.write_text(json.dumps({"someone@salesforce.example": "U0SOMEONE"}))
        assert notifier(fake, user_map_file=path).user_id_for_email(REP.email) == "U0REP"
        assert fake.calls("users.lookupByEmail") == 1

    def test_read_once_on_first_use(self, fake: SlackFake, tmp_path: Path) -> None:
        """The map is read at the first lookup, not at construction, and only once."""
        path = tmp_path / "users.yaml"
        slack = notifier(fake, user_map_file=path)
        path.write_text("rep@salesforce.example: U0MAPPED\n")
        assert slack.user_id_for_email(REP.email) == "U0MAPPED"
        path.unlink()
        assert slack.user_id_for_email(REP.email) == "U0MAPPED"

    @pytest.mark.parametrize(
        ("name", "content", "problem"),
        [
            ("users.yaml", "- rep@salesforce.example\n", "expected a mapping"),
            ("users.yaml", "rep@salesforce.example: [U1\n", "not valid YAML or JSON"),
            ("users.json", "{'rep@salesforce.example': 'U1'}", "not valid YAML or JSON"),
            ("users.yaml", "rep@salesforce.example: 12345\n", "not a user id"),
            ("users.yaml", "rep@salesforce.example: C0SLA\n", "not a user id"),
            ("users.yaml", "rep: U0REP\n", "not an email address"),
            ("users.yaml", "a@x.example: U1\nA@X.example: U2\n", "mapped twice"),
            ("missing.yaml", None, "cannot read"),
        ],
    )
    def test_bad_map_is_a_configuration_error(
        self, fake: SlackFake, tmp_path: Path, name: str, content: str | None, problem: str
    ) -> None:
        """A map that cannot be used is a ConfigurationError naming the file and the problem."""
        path = tmp_path / name
        if content is not None:
            path.write_text(content)
        with pytest.raises(ConfigurationError, match=problem) as caught:
            notifier(fake, user_map_file=path).user_id_for_email(REP.email)
        assert str(caught.value).startswith(str(path))


class TestSlackFake:
    def client(self, fake: SlackFake, token: str | None = DEFAULT_TOKEN) -> WebClient:
        return WebClient(token=token, base_url=fake.url, retry_handlers=[])

    def test_auth_test(self, fake: SlackFake) -> None:
        """auth.test names the bot and its workspace."""
        answer = self.client(fake).auth_test()
        assert (answer["user_id"], answer["team_id"]) == ("U0ALERTER", "T0FAKE")

    def test_no_token_is_not_authed(self, fake: SlackFake) -> None:
        """A call without a token is not_authed."""
        with pytest.raises(SlackApiError) as caught:
            self.client(fake, token=None).auth_test()
        assert caught.value.response["error"] == "not_authed"

    def test_token_as_a_form_field(self, fake: SlackFake) -> None:
        """A token in the form body is accepted, and never recorded."""
        body = f"token={DEFAULT_TOKEN}&email=rep%40salesforce.example".encode()
        request = urllib.request.Request(f"{fake.url}users.lookupByEmail", data=body)
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["user"]["id"] == "U0REP"
        assert fake.received[0].params == {"email": "rep@salesforce.example"}

    def test_form_encoded_blocks_are_decoded(self, fake: SlackFake) -> None:
        """Blocks sent as a JSON string in a form are recorded decoded, as Slack parses them."""
        params = {"channel": "C0SLA", "text": "t", "blocks": json.dumps(BLOCKS)}
        self.client(fake).api_call("chat.postMessage", params=params)
        assert fake.messages == [{"channel": "C0SLA", "text": "t", "blocks": BLOCKS}]

    def test_conversations_open(self, fake: SlackFake) -> None:
        """conversations.open gives the bot's DM with a user."""
        assert self.client(fake).conversations_open(users="U0REP")["channel"]["id"] == "D0REP"

    @pytest.mark.parametrize(
        ("user", "code"), [("U0NOPE", "user_not_found"), ("U0GONE", "user_disabled")]
    )
    def test_conversations_open_refused(self, fake: SlackFake, user: str, code: str) -> None:
        """conversations.open refuses unknown and deactivated users, as Slack does."""
        with pytest.raises(SlackApiError) as caught:
            self.client(fake).conversations_open(users=user)
        assert caught.value.response["error"] == code

    def test_deactivated_users_id_is_still_accepted(self, fake: SlackFake) -> None:
        """Posting to a deactivated user's id succeeds, as it does on Slack."""
        answer = self.client(fake).chat_postMessage(channel="U0GONE", text="hi")
        assert answer["channel"] == "D0GONE"

    def test_outbox_holds_each_body_as_received(self, fake: SlackFake, tmp_path: Path) -> None:
        """Each accepted message is written, numbered from 0001, as the exact body received."""
        fake.outbox = tmp_path
        slack = notifier(fake)
        slack.send(SlackMessage("U0REP", "first", BLOCKS))
        slack.send(SlackMessage("C0SLA", "second"))
        refused(fake, SlackMessage("C0NOPE", "refused"))
        files = sorted((tmp_path / "slack").iterdir())
        assert [f.name for f in files] == ["0001.json", "0002.json"]
        for file, params in zip(files, fake.messages, strict=True):
            assert file.read_bytes() == json.dumps(params).encode()

    def test_outbox_numbering_continues(self, fake: SlackFake, tmp_path: Path) -> None:
        """Files already in the outbox are kept; numbering goes on after them."""
        (tmp_path / "slack").mkdir()
        (tmp_path / "slack" / "0007.json").write_text("{}")
        fake.outbox = tmp_path
        notifier(fake).send(SlackMessage("C0SLA", "next"))
        assert (tmp_path / "slack" / "0008.json").exists()
