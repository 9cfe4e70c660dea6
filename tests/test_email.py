"""The email notifier, through the real smtplib against the local SMTP sink."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage as MimeMessage
from email.message import MIMEPart
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from alerter.delivery.email import EmailNotifier, build_message
from alerter.delivery.model import Delivered, DeliveryError, EmailMessage
from alerter.errors import ConfigurationError
from alerter.sandbox.smtp import Security, SmtpSink
from alerter.sandbox.tls import LocalCertificate
from alerter.settings import SmtpSettings

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
USER, PASSWORD = "alerter", "s3cret-Pa55"
FROM = "SLA Alerter <alerts@sales.example.com>"
INJECTION = "Lead overdue\r\nBcc: victim@evil.example"


def email(n: int = 1, **fields: Any) -> EmailMessage:
    """A rendered email to manager ``n``; ``fields`` replace any attribute."""
    values: dict[str, Any] = {
        "to": f"manager{n}@example.com",
        "to_name": f"Manager {n}",
        "subject": f"Lead {n} breached its SLA",
        "text": f"Lead {n} has not been touched.\n",
        "html": f"<p>Lead {n} has not been touched.</p>\n",
    }
    values.update(fields)
    return EmailMessage(**values)


def notifier(settings: SmtpSettings) -> EmailNotifier:
    """A notifier whose clock always reads NOW."""
    return EmailNotifier(settings, now=lambda: NOW)


def on_the_wire(mime: MimeMessage) -> MimeMessage:
    """``mime`` serialised and parsed back, as a mail reader would see it."""
    parsed = BytesParser(policy=policy.default).parsebytes(mime.as_bytes())
    assert isinstance(parsed, MimeMessage)
    return parsed


def body(part: MIMEPart) -> str:
    """A part's decoded text with the wire's CRLF line ends read as a mail reader shows them."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


@pytest.fixture(scope="module")
def certificate() -> Iterator[LocalCertificate]:
    """One CA for the module, outliving each sink (so a stopped sink's CA is still there)."""
    cert = LocalCertificate.create()
    yield cert
    cert.cleanup()


@pytest.fixture
def sink(certificate: LocalCertificate) -> Iterator[SmtpSink]:
    """A STARTTLS sink that wants a login."""
    with SmtpSink(username=USER, password=PASSWORD, certificate=certificate) as running:
        yield running


def settings_for(sink: SmtpSink, **overrides: Any) -> SmtpSettings:
    """The sink's settings with our From and Reply-To."""
    return sink.settings(**{"from": FROM, "reply_to": "sales-ops@example.com", **overrides})


class TestBuildMessage:
    def test_text_then_html_alternatives(self) -> None:
        """The message is multipart/alternative with the text part first, both UTF-8."""
        mime = build_message(email(), SmtpSettings(**{"from": FROM}), NOW)
        assert mime.get_content_type() == "multipart/alternative"
        text, html = mime.iter_parts()
        assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
        assert text.get_content_charset() == html.get_content_charset() == "utf-8"
        assert "MIME-Version" not in text
        assert "MIME-Version" not in html

    def test_headers(self) -> None:
        """From, To with its name, Subject, Date from the clock, Message-ID on the From domain."""
        mime = on_the_wire(build_message(email(), SmtpSettings(**{"from": FROM}), NOW))
        assert mime["From"] == FROM
        assert mime["To"] == "Manager 1 <manager1@example.com>"
        assert mime["Subject"] == "Lead 1 breached its SLA"
        assert parsedate_to_datetime(mime["Date"]) == NOW
        assert mime["Date"] == "Wed, 02 Dec 2026 15:00:00 +0000"
        assert mime["Message-ID"].endswith("@sales.example.com>")
        assert "Reply-To" not in mime

    def test_message_ids_are_unique(self) -> None:
        """Two messages built at the same instant still get different Message-IDs."""
        settings = SmtpSettings()
        first, second = (build_message(email(), settings, NOW) for _ in range(2))
        assert first["Message-ID"] != second["Message-ID"]

    def test_non_ascii_round_trip(self) -> None:
        """Names, subjects and bodies in é, ü and 中文 come back from the parser unchanged."""
        message = email(
            to_name="Zoë Müller 中文", subject="Überfällig: 中文 lead for José", text="中文 é ü\n"
        )
        mime = build_message(message, SmtpSettings(), NOW)
        assert mime.as_bytes().isascii()  # encoded words and 7-bit transfer encodings
        parsed = on_the_wire(mime)
        assert parsed["Subject"] == "Überfällig: 中文 lead for José"
        assert parsed["To"].addresses[0].display_name == "Zoë Müller 中文"
        text, html = parsed.iter_parts()
        assert text.get_content() == "中文 é ü\n"
        assert html.get_content() == message.html

    def test_subject_injection_is_folded(self) -> None:
        """A line break in the subject becomes a space: no Bcc header appears."""
        parsed = on_the_wire(build_message(email(subject=INJECTION), SmtpSettings(), NOW))
        assert parsed["Subject"] == "Lead overdue Bcc: victim@evil.example"
        assert "Bcc" not in parsed
        assert b"\nBcc:" not in parsed.as_bytes()

    def test_name_injection_is_folded(self) -> None:
        """A line break in the recipient's name becomes a space inside the To header."""
        parsed = on_the_wire(build_message(email(to_name=INJECTION), SmtpSettings(), NOW))
        assert "Bcc" not in parsed
        assert parsed["To"].addresses[0].addr_spec == "manager1@example.com"

    @pytest.mark.parametrize(
        "to",
        [
            "manager@example.com\r\nBcc: victim@evil.example",
            "a@example.com, b@example.com",
            "bob",
            "zoë@example.com",  # would need SMTPUTF8
        ],
    )
    def test_recipient_must_be_one_address(self, to: str) -> None:
        """A recipient that is not exactly one address is refused before anything is sent."""
        with pytest.raises(ValueError, match="is not one email address"):
            build_message(email(to=to), SmtpSettings(), NOW)


class TestDelivery:
    def test_starttls_with_login(self, sink: SmtpSink) -> None:
        """STARTTLS, AUTH and one message, received with its parts and headers intact."""
        outcome = notifier(settings_for(sink)).send(email())
        assert outcome == Delivered(at=NOW, detail="2.0.0 Ok: queued as 0001")
        [received] = sink.messages
        assert received.mail_from == "alerts@sales.example.com"
        assert received.rcpt_tos == ("manager1@example.com",)
        mime = received.message
        assert mime.get_content_type() == "multipart/alternative"
        text, html = mime.iter_parts()
        assert body(text) == "Lead 1 has not been touched.\n"
        assert body(html) == "<p>Lead 1 has not been touched.</p>\n"
        assert mime["From"] == FROM
        assert mime["To"] == "Manager 1 <manager1@example.com>"
        assert mime["Subject"] == "Lead 1 breached its SLA"
        assert parsedate_to_datetime(mime["Date"]) == NOW
        assert mime["Message-ID"].endswith("@sales.example.com>")
        assert mime["Reply-To"] == "sales-ops@example.com"

    @pytest.mark.parametrize("security", ["ssl", "none"])
    def test_implicit_tls_and_plain(
        self, certificate: LocalCertificate, security: Security
    ) -> None:
        """Implicit TLS (with a login) and plain SMTP (without) deliver too."""
        user, password = (USER, PASSWORD) if security == "ssl" else (None, None)
        with SmtpSink(
            security=security, username=user, password=password, certificate=certificate
        ) as sink:
            outcome = notifier(settings_for(sink)).send(email())
            assert isinstance(outcome, Delivered)
            assert [m.rcpt_tos for m in sink.messages] == [("manager1@example.com",)]

    def test_non_ascii_survives_the_wire(self, sink: SmtpSink) -> None:
        """é, ü and 中文 in the name and subject arrive intact through a real server."""
        message = email(
            to_name="Zoë Müller 中文",
            subject="Überfällig: 中文 lead for José",
            text="Bitte prüfen: 中文 é\n",
            html="<p>Bitte prüfen: 中文 é</p>\n",
        )
        notifier(settings_for(sink)).send(message)
        [received] = sink.messages
        assert received.message["Subject"] == "Überfällig: 中文 lead for José"
        assert received.message["To"].addresses[0].display_name == "Zoë Müller 中文"
        text, html = received.message.iter_parts()
        assert (body(text), body(html)) == (message.text, message.html)

    def test_injection_stays_inert(self, sink: SmtpSink) -> None:
        """A subject and a name carrying a Bcc line reach only the one intended recipient."""
        notifier(settings_for(sink)).send(email(subject=INJECTION, to_name=INJECTION))
        [received] = sink.messages
        assert received.rcpt_tos == ("manager1@example.com",)
        assert "Bcc" not in received.message
        assert b"\r\nBcc:" not in received.raw

    def test_batch_uses_one_connection(self, sink: SmtpSink) -> None:
        """Five messages go out in order over a single connection."""
        outcomes = notifier(settings_for(sink)).send_batch([email(n) for n in range(1, 6)])
        assert all(isinstance(outcome, Delivered) for outcome in outcomes)
        assert sink.connections == 1
        assert [m.rcpt_tos[0] for m in sink.messages] == [
            f"manager{n}@example.com" for n in range(1, 6)
        ]

    def test_empty_batch_connects_to_nothing(self, sink: SmtpSink) -> None:
        """No messages, no connection."""
        assert notifier(settings_for(sink)).send_batch([]) == []
        assert sink.connections == 0

    def test_outbox_holds_the_raw_bytes(
        self, certificate: LocalCertificate, tmp_path: Path
    ) -> None:
        """Each accepted message is written to outbox/mail/NNNN.eml exactly as received."""
        with SmtpSink(outbox=tmp_path, certificate=certificate) as sink:
            notifier(sink.settings()).send_batch([email(1), email(2)])
            raws = [m.raw for m in sink.messages]
        files = sorted((tmp_path / "mail").iterdir())
        assert [f.name for f in files] == ["0001.eml", "0002.eml"]
        assert [f.read_bytes() for f in files] == raws


class TestFailures:
    def test_temporary_refusal_is_retryable(self, sink: SmtpSink) -> None:
        """A 451 for one recipient is retryable, and the rest of the batch is still delivered."""
        sink.reject_next(1, code=451)
        first, second, third = notifier(settings_for(sink)).send_batch(
            [email(1), email(2), email(3)]
        )
        assert isinstance(first, DeliveryError)
        assert (first.retryable, first.code) == (True, "451")
        assert isinstance(second, Delivered)
        assert isinstance(third, Delivered)
        assert [m.rcpt_tos[0] for m in sink.messages] == [
            "manager2@example.com",
            "manager3@example.com",
        ]
        assert sink.connections == 1

    def test_permanent_refusal(self, sink: SmtpSink) -> None:
        """A 550 for a recipient is permanent and says which recipient."""
        sink.reject_next(1, code=550)
        with pytest.raises(DeliveryError, match=r"manager1@example\.com: 550") as caught:
            notifier(settings_for(sink)).send(email())
        assert (caught.value.retryable, caught.value.code) == (False, "550")

    @pytest.mark.parametrize(("code", "retryable"), [(452, True), (554, False)])
    def test_refusal_after_data(self, sink: SmtpSink, code: int, retryable: bool) -> None:
        """A refusal of the message body is judged by its code like a refused recipient."""
        sink.reject_next(1, code=code, stage="data")
        first, second = notifier(settings_for(sink)).send_batch([email(1), email(2)])
        assert isinstance(first, DeliveryError)
        assert (first.retryable, first.code) == (retryable, str(code))
        assert isinstance(second, Delivered)

    def test_wrong_password_is_permanent_for_all(self, sink: SmtpSink) -> None:
        """A refused login fails every message permanently as a configuration problem."""
        settings = settings_for(sink, password=SecretStr("wrong-password"))
        with capture_logs() as logs:
            outcomes = notifier(settings).send_batch([email(1), email(2)])
        for outcome in outcomes:
            assert isinstance(outcome, DeliveryError)
            assert (outcome.retryable, outcome.code) == (False, "535")
            assert "configuration problem" in str(outcome)
            assert "wrong-password" not in str(outcome)
        assert "wrong-password" not in repr(logs)
        assert sink.messages == []

    def test_password_is_never_logged(self, sink: SmtpSink) -> None:
        """Neither a good batch nor a refused one puts the password in a log line."""
        sink.reject_next(1, code=550)
        with capture_logs() as logs:
            notifier(settings_for(sink)).send_batch([email(1), email(2)])
        assert logs  # the refusal was logged...
        assert PASSWORD not in repr(logs)  # ...without the secret

    def test_stopped_server_is_retryable(self, certificate: LocalCertificate) -> None:
        """A server that is gone (port closed) fails every message as retryable."""
        with SmtpSink(certificate=certificate) as sink:
            settings = sink.settings()
        outcomes = notifier(settings).send_batch([email(1), email(2)])
        assert [(o.retryable, o.code) for o in outcomes if isinstance(o, DeliveryError)] == [
            (True, "connection"),
            (True, "connection"),
        ]

    def test_connection_lost_mid_batch(self, certificate: LocalCertificate) -> None:
        """When the server drops the connection, the message in flight and the rest are
        retryable and those already sent stay delivered."""
        with SmtpSink(certificate=certificate, idle_timeout=0.1) as sink:
            ticks = iter([0.0, 0.0, 0.3])

            def slow_clock() -> datetime:
                # The third reading (building message 2) outlasts the server's idle timeout.
                time.sleep(next(ticks, 0.0))
                return NOW

            outcomes = EmailNotifier(sink.settings(), now=slow_clock).send_batch(
                [email(1), email(2), email(3)]
            )
        first, *rest = outcomes
        assert isinstance(first, Delivered)
        assert [(o.retryable, o.code) for o in rest if isinstance(o, DeliveryError)] == [
            (True, "connection"),
            (True, "connection"),
        ]

    @pytest.mark.parametrize("security", ["starttls", "ssl"])
    def test_untrusted_certificate_is_a_configuration_error(
        self, certificate: LocalCertificate, security: Security
    ) -> None:
        """A client that does not trust the server's CA fails permanently and says what to fix:
        retrying would meet the same certificate."""
        with SmtpSink(security=security, certificate=certificate) as sink:
            settings = sink.settings(ca_bundle=None)  # the system store: our CA is not in it
            outcomes = notifier(settings).send_batch([email(1), email(2)])
            assert sink.messages == []
        for outcome in outcomes:
            assert isinstance(outcome, DeliveryError)
            assert (outcome.retryable, outcome.code) == (False, "certificate")
            assert "smtp.ca_bundle" in str(outcome)

    def test_missing_ca_bundle_is_a_configuration_error(self, sink: SmtpSink) -> None:
        """A ca_bundle path that does not exist fails permanently before connecting."""
        settings = settings_for(sink, ca_bundle=Path("/nonexistent/ca.pem"))
        with pytest.raises(DeliveryError, match=r"smtp\.ca_bundle") as caught:
            notifier(settings).send(email())
        assert (caught.value.retryable, caught.value.code) == (False, "configuration")
        assert sink.connections == 0

    def test_unusable_recipient_fails_alone(self, sink: SmtpSink) -> None:
        """A recipient that is not an address fails permanently; the others are delivered."""
        batch = [email(to="bob"), email(to="zoë@example.com"), email(3)]
        *invalid, delivered = notifier(settings_for(sink)).send_batch(batch)
        for outcome in invalid:
            assert isinstance(outcome, DeliveryError)
            assert (outcome.retryable, outcome.code) == (False, "invalid-message")
        assert isinstance(delivered, Delivered)
        assert [m.rcpt_tos for m in sink.messages] == [("manager3@example.com",)]


class TestConfiguration:
    def test_constructor_does_no_io(self) -> None:
        """A notifier for an unreachable server is built without error: nothing is opened."""
        EmailNotifier(SmtpSettings(host="mail.invalid", port=1))

    def test_host_is_required(self) -> None:
        """No host is a configuration error, raised at construction."""
        with pytest.raises(ConfigurationError, match=r"smtp\.host"):
            EmailNotifier(SmtpSettings())

    def test_from_must_be_one_address(self) -> None:
        """An unusable From is a configuration error, raised at construction."""
        with pytest.raises(ConfigurationError, match=r"smtp\.from"):
            EmailNotifier(SmtpSettings(host="mail.example.com", **{"from": "not an address"}))

    def test_from_environment_alias(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """ALERTER_SMTP__FROM sets the From address."""
        from alerter.settings import Settings

        monkeypatch.setenv("ALERTER_SMTP__FROM", "alerts@sales.example.com")
        assert Settings(_env_file=None).smtp.from_address == "alerts@sales.example.com"


class TestSink:
    def test_wrong_credentials_get_535(self, sink: SmtpSink) -> None:
        """The sink answers a wrong password with 535."""
        context = ssl.create_default_context(cafile=sink.ca_bundle)
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
            client.starttls(context=context)
            with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
                client.login(USER, "nope")
        assert caught.value.smtp_code == 535

    def test_mail_needs_login(self, sink: SmtpSink) -> None:
        """Without a login the sink refuses MAIL with 530."""
        context = ssl.create_default_context(cafile=sink.ca_bundle)
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
            client.starttls(context=context)
            client.ehlo()
            assert client.mail("a@example.com")[0] == 530

    def test_starttls_is_required(self, sink: SmtpSink) -> None:
        """Before STARTTLS the sink refuses everything but EHLO, NOOP, QUIT and STARTTLS."""
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
            client.ehlo()
            assert "auth" not in client.esmtp_features
            assert client.mail("a@example.com")[0] == 530

    def test_refusal_code_must_be_4xx_or_5xx(self, sink: SmtpSink) -> None:
        """A 2xx refusal makes no sense and is refused."""
        with pytest.raises(ValueError, match="4xx or 5xx"):
            sink.reject_next(1, code=250)

    def test_stop_cuts_connected_clients(self, certificate: LocalCertificate) -> None:
        """Stopping the sink closes a client's connection instead of leaking its socket."""
        sink = SmtpSink(security="none", certificate=certificate)
        sink.start()
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
            client.ehlo()
            sink.stop()
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.noop()
