"""The deliver step end to end: routing, the shipped templates, the real ``WebClient`` against
the Slack fake and ``smtplib`` against the SMTP sink, with fallbacks after permanent failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator

from alerter.delivery.deliver import Notifiers, Outgoing, deliver
from alerter.delivery.email import EmailNotifier
from alerter.delivery.model import Address, Delivered, DeliveryError, Kind, Message, Notification
from alerter.delivery.recipients import Directory, RoutingError, addresses, owner_of
from alerter.delivery.render import render
from alerter.delivery.slack import SlackNotifier
from alerter.delivery.templates import Templates
from alerter.evaluate import Evaluation, State
from alerter.records import Snapshot
from alerter.rule import Recipient
from alerter.sandbox.slack import DEFAULT_TOKEN, SlackChannel, SlackFake, SlackUser
from alerter.sandbox.smtp import SmtpSink
from alerter.sandbox.tls import LocalCertificate
from alerter.settings import SlackSettings

NOW = datetime(2026, 12, 1, 21, 55, tzinfo=UTC)
TEMPLATES = Templates(Path(__file__).resolve().parents[1] / "templates")
INSTANCE = "https://acme.my.salesforce.com"
ALICE, MARIA, DANA = "005000000000AL1", "005000000000MG1", "005000000000DD1"
LOOKUPS = Snapshot(
    {
        "User": [
            {"Id": MARIA, "Name": "Maria Garcia", "Email": "maria@example.com"},
            {"Id": ALICE, "Name": "Alice Chen", "Email": "alice@example.com", "ManagerId": MARIA},
            {"Id": DANA, "Name": "Dana Diaz", "Email": "dana@example.com", "ManagerId": MARIA},
        ]
    }
)
SLACK_USERS = [
    SlackUser("UALICE", "alice@example.com", "Alice Chen"),
    SlackUser("UMARIA", "maria@example.com", "Maria Garcia"),
]


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackFake]:
    channels = [SlackChannel("C0OPS", "sales-ops"), SlackChannel("C0LEAD", "sales-leadership")]
    with SlackFake(users=SLACK_USERS, channels=channels) as fake:
        yield fake


@pytest.fixture
def slack(slack_server: SlackFake) -> SlackFake:
    slack_server.reset()
    return slack_server


@pytest.fixture(scope="module")
def certificate() -> Iterator[LocalCertificate]:
    cert = LocalCertificate.create()
    yield cert
    cert.cleanup()


@pytest.fixture
def mail(certificate: LocalCertificate) -> Iterator[SmtpSink]:
    with SmtpSink(certificate=certificate) as sink:
        yield sink


def notifiers(slack: SlackFake | None, mail: SmtpSink | None) -> Notifiers:
    slack_notifier = None
    if slack is not None:
        settings = SlackSettings(token=SecretStr(DEFAULT_TOKEN), base_url=slack.url)
        slack_notifier = SlackNotifier(
            settings, now=lambda: NOW, retry_interval=FixedValueRetryIntervalCalculator(0.0)
        )
    email_notifier = None
    if mail is not None:
        email_notifier = EmailNotifier(mail.settings(**{"from": "alerts@example.com"}))
    return Notifiers(slack_notifier, email_notifier)


def directory(
    slack_notifier: SlackNotifier | None, fallback: str | None = "#sales-ops"
) -> Directory:
    lookup = slack_notifier.user_id_for_email if slack_notifier else (lambda email: None)
    return Directory(LOOKUPS, lookup, fallback_channel=fallback)


def lead(name: str = "Ada Lovelace", owner: str = ALICE, **fields: Any) -> Evaluation:
    due = NOW - timedelta(hours=1, minutes=5)
    return Evaluation(
        rule_id="mql-first-touch",
        object="Lead",
        record_id="00Q000000000001",
        name=name,
        owner_id=owner,
        state=State.BREACHED,
        clock_start=due - timedelta(hours=1),
        due=due,
        overdue=timedelta(hours=1, minutes=5),
        tier=1,
        next_change=None,
        explanation="clock started: Status became MQL; no Task, Event after it",
        fields={"Id": "00Q000000000001", "Name": name, "OwnerId": owner, **fields},
    )


def nudge(evaluation: Evaluation, to: str = "owner", via: str = "slack") -> Notification:
    recipient = Recipient("channel", to) if to.startswith("#") else Recipient(to)  # type: ignore[arg-type]
    template = "escalation" if to != "owner" else "nudge"
    kind = Kind.BREACH if to == "owner" else Kind.ESCALATION
    return Notification(
        kind,
        "mql-first-touch",
        "New MQL not touched",
        evaluation,
        recipient,
        via,
        template,
        1,  # type: ignore[arg-type]
    )


def renderer(item: Outgoing, address: Address) -> Message:
    owner = owner_of(item.notification.evaluation, LOOKUPS)
    return render(
        item.notification, address, templates=TEMPLATES, instance_url=INSTANCE, now=NOW, owner=owner
    )


def send(notification: Notification, senders: Notifiers) -> tuple[Outgoing, Any]:
    item = Outgoing(notification, addresses(notification, directory(senders.slack)))
    return item, deliver([item], renderer, senders)[0]


class TestAddresses:
    def test_slack_then_email_then_fallback(self, slack: SlackFake) -> None:
        """A person on Slack is tried on Slack, then by email, then in the fallback channel."""
        chain = addresses(nudge(lead()), directory(notifiers(slack, None).slack))
        assert [(a.channel, a.target) for a in chain] == [
            ("slack", "UALICE"),
            ("email", "alice@example.com"),
            ("slack", "#sales-ops"),
        ]
        assert chain[2].fallback

    def test_a_channel_falls_back_to_the_fallback_channel_only(self, slack: SlackFake) -> None:
        """A channel has no mailbox: after it, only the fallback channel."""
        chain = addresses(nudge(lead(), to="#sales-leadership"), directory(None))
        assert [a.target for a in chain] == ["#sales-leadership", "#sales-ops"]

    def test_the_fallback_itself_has_no_fallback(self) -> None:
        """A record already routed to the fallback channel has nowhere else to go."""
        chain = addresses(nudge(lead(owner="005000000000ZZ1")), directory(None))
        assert [(a.target, a.fallback) for a in chain] == [("#sales-ops", True)]

    def test_nowhere_at_all(self) -> None:
        """Without even a fallback channel, routing fails permanently rather than dropping."""
        with pytest.raises(RoutingError):
            addresses(nudge(lead(owner="005000000000ZZ1")), directory(None, fallback=None))


class TestDeliver:
    def test_slack_dm(self, slack: SlackFake) -> None:
        """The owner's nudge reaches their DM with the button to the record."""
        _, outcome = send(nudge(lead()), notifiers(slack, None))
        assert isinstance(outcome.result, Delivered)
        assert outcome.address.target == "UALICE"
        [message] = slack.messages
        assert "Ada Lovelace" in message["text"]
        urls = [
            e["url"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
        ]
        assert urls == [f"{INSTANCE}/lightning/r/Lead/00Q000000000001/view"]

    def test_permanent_slack_failure_falls_back_to_email(
        self, slack: SlackFake, mail: SmtpSink
    ) -> None:
        """A Slack refusal that retrying cannot fix sends the nudge to the rep by email."""
        slack.fail_next(status=200, error="channel_not_found", method="chat.postMessage")
        _, outcome = send(nudge(lead()), notifiers(slack, mail))
        assert isinstance(outcome.result, Delivered)
        assert (outcome.address.channel, outcome.address.target) == ("email", "alice@example.com")
        assert [a.target for a in outcome.tried] == ["UALICE", "alice@example.com"]
        [failed] = outcome.fell_back
        assert failed.startswith("slack UALICE: ")
        assert "channel_not_found" in failed
        [received] = mail.messages
        assert received.rcpt_tos == ("alice@example.com",)

    def test_slack_and_email_fail_so_the_fallback_channel_hears(
        self, slack: SlackFake, mail: SmtpSink
    ) -> None:
        """Slack refuses the DM and the mailbox is refused: the fallback channel is told."""
        slack.fail_next(status=200, error="user_not_found", method="chat.postMessage")
        mail.reject_next(code=550)
        _, outcome = send(nudge(lead()), notifiers(slack, mail))
        assert isinstance(outcome.result, Delivered)
        assert outcome.address.target == "#sales-ops"
        assert len(outcome.fell_back) == 2
        assert [m["channel"] for m in slack.messages] == ["#sales-ops"]

    def test_retryable_failure_stops_without_falling_back(
        self, slack: SlackFake, mail: SmtpSink
    ) -> None:
        """A Slack outage is retried later on Slack, not rerouted to email now."""
        slack.fail_next(5, status=503, method="chat.postMessage")
        _, outcome = send(nudge(lead()), notifiers(slack, mail))
        assert isinstance(outcome.result, DeliveryError)
        assert outcome.result.retryable
        assert outcome.address.target == "UALICE"
        assert mail.messages == []

    def test_every_permanent_failure_is_the_outcome(self, slack: SlackFake) -> None:
        """When every address fails for good, the last error is the outcome, marked permanent."""
        slack.fail_next(2, status=200, error="channel_not_found", method="chat.postMessage")
        _, outcome = send(nudge(lead(), to="#sales-leadership"), notifiers(slack, None))
        assert isinstance(outcome.result, DeliveryError)
        assert not outcome.result.retryable
        assert len(outcome.fell_back) == 1

    def test_email_not_configured_falls_back(self, slack: SlackFake) -> None:
        """A manager escalation by email with no SMTP configured lands in the fallback channel."""
        _, outcome = send(nudge(lead(), to="manager", via="email"), notifiers(slack, None))
        assert isinstance(outcome.result, Delivered)
        assert outcome.address.target == "#sales-ops"
        assert "email (ALERTER_SMTP__HOST) is not configured" in outcome.fell_back[0]

    def test_emails_of_a_batch_share_one_connection(self, slack: SlackFake, mail: SmtpSink) -> None:
        """Three escalations by email go over one SMTP connection."""
        senders = notifiers(slack, mail)
        batch = [
            Outgoing(n, addresses(n, directory(senders.slack)))
            for n in (nudge(lead(f"Lead {i}"), to="manager", via="email") for i in range(3))
        ]
        outcomes = deliver(batch, renderer, senders)
        assert all(isinstance(o.result, Delivered) for o in outcomes)
        assert len(mail.messages) == 3
        assert mail.connections == 1

    def test_no_addresses(self, slack: SlackFake) -> None:
        """An item with nowhere to go comes back failed, never skipped."""
        [outcome] = deliver([Outgoing(nudge(lead()), ())], renderer, notifiers(slack, None))
        assert isinstance(outcome.result, DeliveryError)
        assert outcome.result.code == "no_recipient"


class TestHostileNames:
    def test_slack_pings_and_links_nobody(self, slack: SlackFake) -> None:
        """A lead named like a mention and a link reaches Slack escaped, in blocks and text."""
        name = "<!channel> <https://evil.example|click here>"
        send(nudge(lead(name, Company="<!here>")), notifiers(slack, None))
        [message] = slack.messages
        everything = str(message)
        assert "<!channel>" not in everything
        assert "<!here>" not in everything
        assert "<https://evil.example" not in everything
        assert "&lt;!channel&gt;" in message["text"]

    def test_html_email_shows_script_as_text(self, slack: SlackFake, mail: SmtpSink) -> None:
        """A lead named ``<script>`` is escaped in the HTML part of a manager's email."""
        name = "<script>alert(1)</script>"
        send(nudge(lead(name), to="manager", via="email"), notifiers(slack, mail))
        [received] = mail.messages
        assert isinstance(received.message, MimeMessage)
        html = received.message.get_body(("html",))
        assert html is not None
        content = html.get_content()
        assert "<script>" not in content
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
