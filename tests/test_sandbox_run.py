"""The running sandbox: the emulator, the Slack fake and the SMTP sink from one snapshot, reached
through the settings it gives, by the real notifiers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerter.delivery.email import EmailNotifier
from alerter.delivery.model import EmailMessage, SlackMessage
from alerter.delivery.slack import SlackNotifier
from alerter.demo import DEMO_AT, demo_snapshot_path
from alerter.sandbox.run import FALLBACK_CHANNEL, Sandbox, running_sandbox, slack_users
from alerter.sandbox.slack import SlackUser
from alerter.settings import Settings

NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def sandbox(outbox: Path) -> Iterator[Sandbox]:
    with running_sandbox(demo_snapshot_path(), now=DEMO_AT, outbox=outbox) as running:
        yield running


class TestSlackUsers:
    def test_members_from_user_rows(self) -> None:
        """Users with an email become members in row order; an inactive one is deactivated."""
        rows: list[dict[str, Any]] = [
            {"Id": "005A", "Name": "Ann", "Email": "ann@example.com", "IsActive": True},
            {"Id": "005B", "Name": "Queue bot", "Email": None},
            {"Id": "005C", "Name": "Cy", "Email": "cy@example.com", "IsActive": False},
            {"Id": "005D", "Email": "dee@example.com"},
        ]
        assert slack_users(rows) == [
            SlackUser("U00000001", "ann@example.com", "Ann"),
            SlackUser("U00000002", "cy@example.com", "Cy", deleted=True),
            SlackUser("U00000003", "dee@example.com", ""),
        ]


class TestRunningSandbox:
    def test_environment_names_every_setting(self, sandbox: Sandbox) -> None:
        """The environment points Slack at the fake's /api/ and SMTP at the sink with its CA."""
        env = sandbox.environment()
        assert env["ALERTER_SLACK__BASE_URL"] == sandbox.slack.url
        assert env["ALERTER_SLACK__FALLBACK_CHANNEL"] == FALLBACK_CHANNEL
        assert env["ALERTER_SMTP__PORT"] == str(sandbox.smtp.port)
        assert env["ALERTER_SMTP__CA_BUNDLE"] == str(sandbox.smtp.ca_bundle)
        assert "ALERTER_SMTP__FROM_ADDRESS" not in env

    def test_environment_is_read_back_as_settings(
        self, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The variables, read by Settings, give the sandbox's own settings."""
        for name, value in sandbox.environment().items():
            monkeypatch.setenv(name, value)
        settings = Settings(_env_file=None)
        assert settings.slack.token == sandbox.slack_settings().token
        assert settings.smtp.from_address == sandbox.smtp_settings().from_address
        assert settings.smtp.password == sandbox.smtp_settings().password

    def test_export_lines_quote_for_the_shell(self, sandbox: Sandbox) -> None:
        """A value with a shell metacharacter (the fallback channel's #) is quoted."""
        lines = sandbox.export_lines()
        assert f"export ALERTER_SLACK__FALLBACK_CHANNEL='{FALLBACK_CHANNEL}'" in lines
        assert len(lines) == len(sandbox.environment())

    def test_configure_keeps_the_rest(self, sandbox: Sandbox) -> None:
        """configure() replaces the three services' settings and nothing else."""
        base = Settings(_env_file=None, rules_dir=Path("elsewhere"))
        settings = sandbox.configure(base)
        assert settings.rules_dir == Path("elsewhere")
        assert settings.slack.base_url == sandbox.slack.url
        assert settings.salesforce.login_url == sandbox.salesforce.url

    def test_demo_reps_are_dmed(self, sandbox: Sandbox, outbox: Path) -> None:
        """The notifier finds a demo rep by email and its message lands in the outbox."""
        slack = SlackNotifier(sandbox.slack_settings(), now=lambda: NOW)
        user = slack.user_id_for_email("alice@example.com")
        assert user is not None
        slack.send(SlackMessage(user, "Lead waiting"))
        newest = max((outbox / "slack").iterdir())
        assert json.loads(newest.read_bytes())["channel"] == user

    def test_fallback_channel_exists(self, sandbox: Sandbox) -> None:
        """The fallback channel the settings name accepts messages."""
        settings = sandbox.slack_settings()
        assert settings.fallback_channel is not None
        SlackNotifier(settings, now=lambda: NOW).send(SlackMessage(settings.fallback_channel, "x"))
        assert sandbox.slack.messages[-1]["channel"] == FALLBACK_CHANNEL

    def test_email_through_starttls_with_login(self, sandbox: Sandbox, outbox: Path) -> None:
        """The email notifier sends through the sink with the settings given, into the outbox."""
        email = EmailMessage("maria@example.com", "Lead waiting", "text\n", "<p>html</p>\n")
        EmailNotifier(sandbox.smtp_settings(), now=lambda: NOW).send(email)
        received = sandbox.smtp.messages[-1]
        assert (received.mail_from, received.rcpt_tos) == (
            "alerter@example.com",
            ("maria@example.com",),
        )
        assert max((outbox / "mail").iterdir()).read_bytes() == received.raw
