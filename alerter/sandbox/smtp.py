"""A local mail server that accepts what it is sent and keeps it, for tests and demos.

The email notifier is tested through the real ``smtplib`` against this sink, so STARTTLS,
implicit TLS, certificate checks and AUTH all run their real code paths. The sink presents a
:class:`~alerter.sandbox.tls.LocalCertificate` (an ephemeral CA a client trusts only when told
to), optionally demands a username and password, records every accepted message and every
connection, and can be told to refuse the next few recipients or messages with a 4xx or 5xx
reply, the way a real relay under load or a mailbox that does not exist would.

aiosmtpd runs the protocol on an asyncio loop in its controller's thread; the handler below is
called on that thread, so everything it records is guarded by one lock.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections.abc import Coroutine, Sequence
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, TLSSetupException
from pydantic import SecretStr

from alerter.sandbox.outbox import write_numbered
from alerter.sandbox.tls import LocalCertificate
from alerter.settings import SmtpSettings

Security = Literal["starttls", "ssl", "none"]
Stage = Literal["rcpt", "data"]

log = structlog.get_logger(__name__)


def _not_login_data_notice(record: logging.LogRecord) -> bool:
    """aiosmtpd 1.4 warns "Session.login_data is deprecated" on every successful AUTH, from
    its own code: noise on every sandbox login, not something a caller can act on."""
    return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_not_login_data_notice)

_DEFAULT_REPLIES = {4: "4.3.0 Try again later", 5: "5.1.1 Mailbox unavailable"}


class Received(NamedTuple):
    """One accepted message: the envelope, the bytes as received, and those bytes parsed."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage


class _Rejection(NamedTuple):
    """A queued fault: refuse ``remaining`` more RCPT or DATA commands with this reply."""

    remaining: int
    stage: Stage
    reply: str


class SmtpSink:
    """An SMTP server on 127.0.0.1 (a free port) in a background thread; a context manager.

    ``security`` is what the notifier's setting of the same name expects: ``"starttls"`` (plain
    connect, STARTTLS offered and required before anything else), ``"ssl"`` (TLS from the first
    byte) or ``"none"``. With a ``username`` the sink refuses mail until the client logs in
    (PLAIN or LOGIN; wrong credentials get 535). With an ``outbox`` every accepted message is
    also written to ``outbox/mail/NNNN.eml`` as the raw bytes received, numbered in arrival
    order after any files already there (see :mod:`alerter.sandbox.outbox`).
    A connection idle for ``idle_timeout`` seconds is closed, as real servers do.
    """

    def __init__(
        self,
        *,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        outbox: Path | None = None,
        certificate: LocalCertificate | None = None,
        idle_timeout: float = 300.0,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.security = security
        self.username = username
        self._password = password
        self.outbox = outbox
        self._given = certificate
        self.idle_timeout = idle_timeout
        self._certificate: LocalCertificate | None = None
        self._controller: _Controller | None = None
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._connections = 0
        self._rejections: list[_Rejection] = []

    def start(self) -> None:
        """Issue the certificate (unless given), bind a free port and serve in a thread."""
        if self._controller is not None:
            raise RuntimeError("already serving")
        certificate = self._given or LocalCertificate.create()
        tls = certificate.server_context() if self.security != "none" else None
        controller = _Controller(
            self,
            hostname="127.0.0.1",
            port=0,
            ssl_context=tls if self.security == "ssl" else None,
            server_hostname="localhost",  # else aiosmtpd asks DNS for our FQDN
            tls_context=tls if self.security == "starttls" else None,
            require_starttls=self.security == "starttls",
            # aiosmtpd only knows TLS that began with STARTTLS: on an implicit-TLS connection it
            # would refuse AUTH as unencrypted. With "ssl" every byte is encrypted anyway, and
            # with "none" the operator chose plain text, so only STARTTLS needs the check.
            auth_require_tls=self.security == "starttls",
            authenticator=self._authenticate if self.username is not None else None,
            timeout=self.idle_timeout,
        )
        try:
            controller.start()
        except BaseException:
            controller.stop(no_assert=True)
            if self._given is None:
                certificate.cleanup()
            raise
        with self._lock:
            self._connections = 0  # the controller's own readiness probe is not a client
        self._certificate, self._controller = certificate, controller

    def stop(self) -> None:
        """Stop serving, join the thread, remove our certificate; a no-op when stopped."""
        if self._controller is None:
            return
        self._controller.stop()
        if self._given is None and self._certificate is not None:
            self._certificate.cleanup()
        self._controller = self._certificate = None

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """The address served (always the loopback address)."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The port bound, once started."""
        if self._controller is None:
            raise RuntimeError("not serving: call start() first")
        return self._controller.port

    @property
    def ca_bundle(self) -> Path:
        """The CA certificate a client must trust to accept this server, once started."""
        if self._certificate is None:
            raise RuntimeError("not serving: call start() first")
        return self._certificate.ca_bundle

    def settings(self, **overrides: Any) -> SmtpSettings:
        """Settings that reach this sink (its credentials and CA included); ``overrides``
        replace any field, e.g. ``password=SecretStr("wrong")``."""
        values: dict[str, Any] = {
            "host": self.host,  # the certificate names 127.0.0.1 too
            "port": self.port,
            "security": self.security,
            "username": self.username,
            "password": SecretStr(self._password) if self._password is not None else None,
            "ca_bundle": self.ca_bundle if self.security != "none" else None,
            "timeout": 5.0,
        }
        values.update(overrides)
        return SmtpSettings(**values)

    @property
    def messages(self) -> list[Received]:
        """Every accepted message so far, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    @property
    def connections(self) -> int:
        """How many client connections were opened since start."""
        with self._lock:
            return self._connections

    def reject_next(
        self, n: int = 1, *, code: int = 451, message: str | None = None, stage: Stage = "rcpt"
    ) -> None:
        """Answer the next ``n`` RCPT (or DATA) commands with ``code`` instead of accepting:
        4xx for a temporary refusal, 5xx for a permanent one."""
        if not 400 <= code <= 599:
            raise ValueError(f"a refusal is a 4xx or 5xx reply, not {code}")
        text = message if message is not None else _DEFAULT_REPLIES[code // 100]
        with self._lock:
            self._rejections.append(_Rejection(n, stage, f"{code} {text}"))

    # -- called on the controller's thread ---------------------------------------------------

    def _opened(self) -> None:
        with self._lock:
            self._connections += 1

    def _refusal(self, stage: Stage) -> str | None:
        """The reply of the first queued fault for ``stage``, used up by one."""
        with self._lock:
            for index, rejection in enumerate(self._rejections):
                if rejection.stage == stage:
                    if rejection.remaining <= 1:
                        del self._rejections[index]
                    else:
                        left = rejection.remaining - 1
                        self._rejections[index] = rejection._replace(remaining=left)
                    return rejection.reply
        return None

    def _accept(self, mail_from: str, rcpt_tos: Sequence[str], raw: bytes) -> int:
        """Record one message (and write it to the outbox); returns its number from 1."""
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)  # policy.default parses to EmailMessage
        with self._lock:
            self._messages.append(Received(mail_from, tuple(rcpt_tos), raw, parsed))
            number = len(self._messages)
            if self.outbox is not None:  # under the lock: file numbers follow arrival order
                write_numbered(self.outbox / "mail", ".eml", raw)
        return number

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self.username is None:
            return AuthResult(success=False, handled=False)
        assert self._password is not None
        good = hmac.compare_digest(data.login, self.username.encode()) and hmac.compare_digest(
            data.password, self._password.encode()
        )
        return AuthResult(success=good, handled=False, auth_data=data)


class _Handler:
    """aiosmtpd's hooks: auth enforced at MAIL, faults injected at RCPT and DATA."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # Enforced here rather than with aiosmtpd's auth_required, which warns (and so fails
        # under filterwarnings=error) whenever auth_require_tls is off, i.e. for "ssl".
        if self.sink.username is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.sink._refusal("rcpt")
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self.sink._refusal("data")
        if refusal is not None:
            return refusal
        raw = envelope.original_content or b""
        number = self.sink._accept(str(envelope.mail_from), envelope.rcpt_tos, raw)
        return f"250 2.0.0 Ok: queued as {number:04d}"

    async def handle_exception(self, error: Exception) -> str:
        # A client refusing our certificate is a case the tests play on purpose; anything
        # else is a fault of the sink and is logged with its traceback.
        if not isinstance(error, TLSSetupException):
            log.error("smtp sink session failed", exc_info=error)
        return f"500 Error: ({type(error).__name__}) {error}"


class _Connection(SMTP):
    """aiosmtpd's protocol for one client, holding the socket's transport so that stop() can
    cut a client still connected (aiosmtpd would leave its socket open: a ResourceWarning)."""

    def __init__(self, live: set[_Connection], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._live = live
        self._socket: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._socket is None:  # called again, with the TLS layer, after STARTTLS
            self._socket = transport
            self._live.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._live.discard(self)
        super().connection_lost(error)

    def cut(self) -> None:
        if isinstance(self._socket, asyncio.Transport):
            self._socket.abort()


class _Controller(Controller):
    """aiosmtpd's threaded controller, binding port 0 and learning the port the OS chose (the
    stock one would probe port 0), counting connections, and cutting them at stop."""

    def __init__(self, sink: SmtpSink, **kwargs: Any) -> None:
        super().__init__(_Handler(sink), **kwargs)
        self.sink = sink
        self._live: set[_Connection] = set()  # touched only on the loop's thread

    def factory(self) -> SMTP:
        self.sink._opened()  # one protocol object per accepted connection
        return _Connection(self._live, self.handler, loop=self.loop, **self.SMTP_kwargs)

    def stop(self, no_assert: bool = False) -> None:
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._cut_all(), self.loop).result(timeout=5)
        super().stop(no_assert)
        if not self.loop.is_closed():  # start() failed before the loop ran
            self.loop.close()

    async def _cut_all(self) -> None:
        for connection in list(self._live):
            connection.cut()
        for _ in range(100):  # connection_lost runs a loop iteration or two later
            if not self._live:
                return
            await asyncio.sleep(0.01)

    def _create_server(self) -> Coroutine[Any, Any, asyncio.AbstractServer]:
        return self._bind()

    async def _bind(self) -> asyncio.AbstractServer:
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
        )
        self.port = server.sockets[0].getsockname()[1]
        return server
