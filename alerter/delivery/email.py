"""Email delivery: a rendered :class:`EmailMessage` becomes a MIME message (pure), and a batch
of them goes out over one SMTP connection, each with its own verdict.

How a failure is judged, so that the caller knows whether trying again can help:

- a 4xx reply (to MAIL, RCPT or DATA; 421 included) is temporary: retryable;
- a 5xx reply is the server's final word on that message: permanent;
- the connection failing (refused, reset, timed out, ``SMTPServerDisconnected``) is retryable,
  for the message in flight and every one after it;
- login refused with 5xx (535), STARTTLS or AUTH not offered, or the server's certificate not
  trusted is a configuration problem: permanent for the whole batch, and the error says which
  setting to look at. Retrying a certificate the client does not trust gets the same verdict
  every time; failing at once tells the operator now rather than after the retries run out.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid

import structlog

from alerter.delivery.model import Delivered, DeliveryError, EmailMessage
from alerter.errors import ConfigurationError
from alerter.settings import SmtpSettings

log = structlog.get_logger(__name__)

# 7-bit transfer encodings (quoted-printable or base64 for non-ASCII text), so the message
# needs no 8BITMIME or SMTPUTF8 from whatever relay it passes through.
_POLICY = policy.default.clone(cte_type="7bit")
_WIRE = _POLICY.clone(linesep="\r\n")


def build_message(message: EmailMessage, settings: SmtpSettings, now: datetime) -> MimeMessage:
    """The MIME message for ``message``: ``multipart/alternative``, text then HTML, UTF-8.

    Subjects and display names come from templates and Salesforce data, so a line break in
    them is folded to a space (a header cannot be split into two); a recipient that is not one
    plain address raises :class:`ValueError`.
    """
    mime = MimeMessage(policy=_POLICY)
    mime["From"] = settings.from_address
    sender = _only_address(mime, "From")
    try:
        mime["To"] = Address(display_name=_one_line(message.to_name or ""), addr_spec=message.to)
        _only_address(mime, "To")
    except ValueError as error:  # header defects are ValueErrors too
        raise ValueError(f"recipient {message.to!r} is not one email address: {error}") from None
    mime["Subject"] = _one_line(message.subject)
    mime["Date"] = format_datetime(now)
    mime["Message-ID"] = make_msgid(domain=sender.domain)
    if settings.reply_to:
        mime["Reply-To"] = settings.reply_to
    mime.set_content(message.text, subtype="plain", charset="utf-8")
    mime.add_alternative(message.html, subtype="html", charset="utf-8")
    for part in mime.iter_parts():
        del part["MIME-Version"]  # add_alternative copies it into the part; it belongs on top
    return mime


def _one_line(text: str) -> str:
    # splitlines() breaks at every character the email policy rejects in a header value.
    return " ".join(part.strip() for part in text.splitlines()).strip()


def _only_address(mime: MimeMessage, header: str) -> Address:
    """The single address in ``header``, or ValueError (a list or a defect is not one)."""
    field = mime[header]
    addresses = field.addresses
    if len(addresses) != 1 or field.defects or not addresses[0].domain:
        raise ValueError(f"{header} must be exactly one address, not {str(field)!r}")
    if not addresses[0].addr_spec.isascii():  # would need SMTPUTF8, which we do not speak
        raise ValueError(f"{header} address {addresses[0].addr_spec!r} is not ASCII")
    address: Address = addresses[0]
    return address


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EmailNotifier:
    """Sends rendered emails through the SMTP server in :class:`SmtpSettings`.

    Nothing is opened until :meth:`send_batch`, which opens one connection for the batch (the
    server's rate limits and TLS handshakes are paid once, not per message). ``now`` stamps the
    Date header and :attr:`Delivered.at`.
    """

    def __init__(self, settings: SmtpSettings, *, now: Callable[[], datetime] = _utc_now) -> None:
        if not settings.host:
            raise ConfigurationError("smtp.host is not set: email cannot be sent")
        if settings.username and settings.password is None:
            raise ConfigurationError("smtp.username is set but smtp.password is not")
        probe = MimeMessage(policy=_POLICY)
        probe["From"] = settings.from_address
        try:
            self._sender = _only_address(probe, "From").addr_spec
        except ValueError as error:
            raise ConfigurationError(f"smtp.from: {error}") from None
        self._settings = settings
        self._host = settings.host
        self._now = now

    def send(self, message: EmailMessage) -> Delivered:
        """Send one message; raises :class:`DeliveryError` (``retryable`` set) if not sent."""
        outcome = self.send_batch([message])[0]
        if isinstance(outcome, DeliveryError):
            raise outcome
        return outcome

    def send_batch(self, messages: Sequence[EmailMessage]) -> list[Delivered | DeliveryError]:
        """Send every message over one connection; one outcome per message, in order."""
        if not messages:
            return []
        outcomes: list[Delivered | DeliveryError] = []
        try:
            client = self._open()
        except (OSError, _Misconfigured) as error:  # smtplib's and ssl's errors are OSErrors
            failure = self._connect_failure(error)
            log.warning("email connection failed", host=self._host, error=str(failure))
            return [_copy(failure) for _ in messages]
        try:
            for index, message in enumerate(messages):
                try:
                    outcomes.append(self._send_one(client, message))
                except OSError as error:  # smtplib's disconnects and socket errors alike
                    lost = f"connection to {self._where} lost: {error or type(error).__name__}"
                    log.warning("email connection lost", host=self._host, error=str(error))
                    for _ in messages[index:]:
                        outcomes.append(DeliveryError(lost, retryable=True, code="connection"))
                    break
        finally:
            _close(client)
        return outcomes

    @property
    def _where(self) -> str:
        return f"{self._host}:{self._settings.port}"

    def _open(self) -> smtplib.SMTP:
        """Connect, secure, log in: the steps every batch shares."""
        settings = self._settings
        context = self._tls_context()
        client: smtplib.SMTP
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(
                self._host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(self._host, settings.port, timeout=settings.timeout)
        try:
            client.ehlo()
            if settings.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if settings.username:
                assert settings.password is not None  # checked in __init__
                client.login(settings.username, settings.password.get_secret_value())
        except BaseException:
            _close(client)
            raise
        return client

    def _tls_context(self) -> ssl.SSLContext | None:
        """Trust ``ca_bundle`` when given, else the system's CAs; host names are checked."""
        if self._settings.security == "none":
            return None
        bundle = self._settings.ca_bundle
        try:
            return ssl.create_default_context(cafile=str(bundle) if bundle else None)
        except (OSError, ValueError) as error:
            raise _Misconfigured(f"cannot load smtp.ca_bundle {bundle}: {error}") from error

    def _send_one(self, client: smtplib.SMTP, message: EmailMessage) -> Delivered | DeliveryError:
        """One message on an open connection; OSError means the connection is gone."""
        try:
            mime = build_message(message, self._settings, self._now())
        except ValueError as error:
            return DeliveryError(
                f"cannot build an email to {message.to!r}: {error}",
                retryable=False,
                code="invalid-message",
            )
        recipient = _only_address(mime, "To").addr_spec
        try:
            detail = _transmit(client, self._sender, recipient, mime.as_bytes(policy=_WIRE))
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = error.recipients[recipient]
            return self._refused(code, reply, recipient)
        except smtplib.SMTPResponseException as error:
            return self._refused(error.smtp_code, error.smtp_error, recipient)
        return Delivered(at=self._now(), detail=detail)

    def _refused(self, code: int, reply: bytes | str, recipient: str) -> DeliveryError:
        text = _text(reply)
        retryable = 400 <= code < 500
        log.warning("email refused", host=self._host, to=recipient, code=code, reply=text)
        return DeliveryError(
            f"{self._where} refused the email to {recipient}: {code} {text}",
            retryable=retryable,
            code=str(code),
        )

    def _connect_failure(self, error: OSError | _Misconfigured) -> DeliveryError:
        """The verdict for a batch whose connection could not be opened (see module doc)."""
        where = self._where
        if isinstance(error, _Misconfigured):
            return DeliveryError(str(error), retryable=False, code="configuration")
        if isinstance(error, smtplib.SMTPAuthenticationError) and error.smtp_code >= 500:
            reply = _text(error.smtp_error)
            return DeliveryError(
                f"{where} refused the login of smtp.username {self._settings.username!r} "
                f"({error.smtp_code} {reply}): a configuration problem, check the username "
                "and password",
                retryable=False,
                code=str(error.smtp_code),
            )
        if isinstance(error, ssl.SSLCertVerificationError):
            return DeliveryError(
                f"{where} presented a certificate this client does not trust "
                f"({error.verify_message}): a configuration problem, set smtp.ca_bundle to the "
                "CA that issued it, or smtp.host to a name the certificate covers",
                retryable=False,
                code="certificate",
            )
        if isinstance(error, smtplib.SMTPResponseException):
            reply = _text(error.smtp_error)
            retryable = 400 <= error.smtp_code < 500
            return DeliveryError(
                f"{where} answered {error.smtp_code} {reply} before any email was sent",
                retryable=retryable,
                code=str(error.smtp_code),
            )
        if isinstance(error, smtplib.SMTPServerDisconnected):
            return DeliveryError(
                f"{where} closed the connection: {error}", retryable=True, code="connection"
            )
        if isinstance(error, smtplib.SMTPException):  # STARTTLS or AUTH not offered, ...
            return DeliveryError(
                f"{where}: {error} (smtp.security is {self._settings.security!r}): a "
                "configuration problem",
                retryable=False,
                code="configuration",
            )
        # Refused, unreachable, timed out, a TLS handshake that failed for another reason.
        reason = str(error) or type(error).__name__
        return DeliveryError(f"cannot reach {where}: {reason}", retryable=True, code="connection")


class _Misconfigured(Exception):
    """A setting that makes the connection impossible before any byte is sent."""


def _transmit(client: smtplib.SMTP, sender: str, recipient: str, raw: bytes) -> str:
    """MAIL, RCPT, DATA for one message; returns the server's final reply (its queue id).

    ``sendmail`` does the same but drops that reply. A refusal resets the transaction so the
    connection can carry the next message, and raises as ``sendmail`` would.
    """
    try:
        code, reply = client.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        code, reply = client.data(raw)
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
        with contextlib.suppress(smtplib.SMTPServerDisconnected):
            client.rset()
        raise
    return _text(reply)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _copy(error: DeliveryError) -> DeliveryError:
    """A fresh error per message: each may be raised (and get a traceback) on its own."""
    return DeliveryError(str(error), retryable=error.retryable, code=error.code)


def _close(client: smtplib.SMTP) -> None:
    """QUIT politely, then close whatever state the connection is in."""
    try:
        client.quit()
    except OSError:  # SMTPException included: the server is gone or confused
        pass
    finally:
        client.close()
