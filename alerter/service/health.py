"""``/healthz`` and ``/metrics`` over HTTP, on a thread beside the scheduler.

Health is judged by :func:`assess`, a pure function of the last success, the start, the clock
and the ledger's answer; :class:`HealthServer` only gathers those and serves the verdict. A
service that has not polled yet is given ``max_age`` from its start before it is called
unhealthy, so a restart does not page anyone while the first poll runs.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from alerter.errors import one_line
from alerter.ledger.store import Ledger
from alerter.service.metrics import Metrics

log = structlog.get_logger(__name__)

LedgerCheck = Callable[[], str | None]
"""``None`` when the ledger answers, else why not (one line)."""


@dataclass(frozen=True)
class Health:
    """The verdict ``/healthz`` serves."""

    last_success: datetime | None
    age: timedelta | None
    """Since the last success (``None`` before the first)."""
    ledger_error: str | None
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons

    def body(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "unhealthy",
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "age_seconds": self.age.total_seconds() if self.age is not None else None,
            "ledger": self.ledger_error or "ok",
            "reasons": list(self.reasons),
        }


def assess(
    *,
    last_success: datetime | None,
    started: datetime,
    now: datetime,
    max_age: timedelta,
    ledger_error: str | None,
) -> Health:
    """Unhealthy when no poll went through within ``max_age`` (of the last success, or of the
    start before the first), or when the ledger does not answer. Exactly ``max_age`` is fine."""
    reasons: list[str] = []
    age = now - last_success if last_success is not None else None
    if age is not None and age > max_age:
        reasons.append(f"last successful cycle {_span(age)} ago (at most {_span(max_age)})")
    elif age is None and now - started > max_age:
        reasons.append(
            f"no successful cycle in the {_span(now - started)} since start "
            f"(at most {_span(max_age)})"
        )
    if ledger_error is not None:
        reasons.append(f"ledger: {ledger_error}")
    return Health(last_success, age, ledger_error, tuple(reasons))


def _span(delta: timedelta) -> str:
    return f"{delta.total_seconds():g}s"


def ping_ledger(ledger: Ledger) -> str | None:
    """A :data:`LedgerCheck` for a ledger: one ``SELECT 1``, the driver's reason on failure."""
    try:
        with ledger.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        return one_line(cause)
    return None


class HealthServer:
    """Serves ``GET /healthz`` and ``GET /metrics`` until :meth:`stop`. No I/O before
    :meth:`start`; ``port=0`` takes any free port (see :attr:`port` once started)."""

    def __init__(
        self,
        metrics: Metrics,
        ledger_check: LedgerCheck,
        *,
        max_age: timedelta,
        clock: Callable[[], datetime],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.metrics = metrics
        self._ledger_check = ledger_check
        self._max_age = max_age
        self._clock = clock
        self._host = host
        self._port = port
        self._started: datetime | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one chosen for ``port=0`` once started)."""
        return self._server.server_address[1] if self._server else self._port

    @property
    def url(self) -> str:
        """Where a client on this host reaches the server: ``http://127.0.0.1:9108``."""
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self._host, self._host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve on a background thread; the start grace period begins now."""
        if self._server is not None:
            raise RuntimeError("the health server is already running")
        self._started = self._clock()
        self._server = _Server(self._host, self._port, self)
        self._thread = threading.Thread(
            # How often the loop checks for stop(): the default half second is what every
            # stop() would wait.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="alerter-health",
            daemon=True,
        )
        self._thread.start()
        log.info("health.listening", url=self.url)

    def stop(self) -> None:
        """Stop serving, wait for requests in flight, and close the socket."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def check(self) -> Health:
        """Judge health now (what ``/healthz`` serves)."""
        try:
            ledger_error = self._ledger_check()
        except Exception as exc:  # a check that raises is an unreachable ledger, not a 500
            ledger_error = one_line(exc)
        now = self._clock()
        return assess(
            last_success=self.metrics.last_success,
            started=self._started or now,
            now=now,
            max_age=self._max_age,
            ledger_error=ledger_error,
        )


class _Server(ThreadingHTTPServer):
    # Request threads are joined on close, so stop() leaves none behind; the handler's
    # timeout keeps a silent client from holding stop() for long.
    daemon_threads = False
    block_on_close = True

    def __init__(self, host: str, port: int, owner: HealthServer) -> None:
        self.owner = owner
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host's FQDN up in DNS, which can stall start-up.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    timeout = 10
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._reply(
                200, CONTENT_TYPE_LATEST, generate_latest(self.server.owner.metrics.registry)
            )
        elif path == "/healthz":
            health = self.server.owner.check()
            body = json.dumps(health.body()).encode()
            self._reply(200 if health.ok else 503, "application/json", body)
        else:
            self._reply(404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n")

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Scrapes come every few seconds: they belong in the debug log, not on stderr.
        log.debug("health.request", client=self.client_address[0], line=format % args)
