"""HTTPS on the loopback address: an ephemeral CA, its certificate, and a server presenting it.

The emulators speak HTTPS so that real clients run their real code path, certificate checks
included: a client trusts an emulator only when told to trust this CA's bundle, exactly as in
production it trusts Salesforce only through the system store. Nothing is installed anywhere;
the files live in a temporary directory that :meth:`LocalCertificate.cleanup` removes.

:class:`HTTPSServer` is protocol-free (it hands each request to an app and writes the reply),
so every emulator shares one tested piece of socket, thread and TLS handling. With
``tls=False`` it serves plain HTTP instead, for fakes of services whose client is pointed at a
base URL and never at a CA bundle (the Slack fake).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trustme

DEFAULT_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class LocalCertificate:
    """Paths to the PEM files of one ephemeral CA and the server certificate it issued."""

    directory: Path
    ca_bundle: Path
    """The CA certificate: what a client passes as ``verify=``."""
    cert_chain: Path
    """The server certificate followed by its chain, for the server's TLS context."""
    key: Path
    """The server certificate's private key."""

    @classmethod
    def create(
        cls, hosts: tuple[str, ...] = DEFAULT_HOSTS, directory: Path | None = None
    ) -> LocalCertificate:
        """Issue a fresh CA and a certificate for ``hosts``, written to ``directory`` (default: a
        new temporary directory)."""
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="alerter-sandbox-tls-"))
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="alerter sandbox")
        leaf = ca.issue_cert(*hosts)
        paths = cls(
            directory=directory,
            ca_bundle=directory / "ca.pem",
            cert_chain=directory / "server.pem",
            key=directory / "server.key",
        )
        ca.cert_pem.write_to_path(str(paths.ca_bundle))
        leaf.private_key_pem.write_to_path(str(paths.key))
        for index, blob in enumerate(leaf.cert_chain_pems):
            blob.write_to_path(str(paths.cert_chain), append=index > 0)
        return paths

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context presenting this certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_chain, self.key)
        return context

    def cleanup(self) -> None:
        """Remove the files (the directory too); a no-op when already gone."""
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass(frozen=True)
class Request:
    """One HTTP request, read whole; header names are lower-case."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    """An HTTP answer before it is written."""

    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=UTF-8"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    """One request served, and the status answered (None: the connection was dropped)."""

    method: str
    path: str
    query: str
    status: int | None


App = Callable[[Request], "Reply | None"]
"""What an :class:`HTTPSServer` serves: a reply, or None to close the connection unanswered."""


class HTTPSServer:
    """Serves an :data:`App` over HTTPS from a background thread, presenting a
    :class:`LocalCertificate` (a fresh one, removed at stop, unless one is given), and keeps a
    log of the requests served for tests to assert on. ``tls=False``: plain HTTP, no
    certificate."""

    def __init__(
        self,
        app: App,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        certificate: LocalCertificate | None = None,
        tls: bool = True,
    ) -> None:
        if certificate is not None and not tls:
            raise ValueError("a certificate needs tls=True")
        self.app = app
        self._tls = tls
        self._address = (host, port)
        self._given = certificate
        self._certificate: LocalCertificate | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._log: list[RecordedRequest] = []
        self._log_lock = threading.Lock()

    def start(self) -> None:
        """Issue the certificate (unless given, or plain HTTP), bind, and serve in a thread."""
        if self._server is not None:
            raise RuntimeError("already serving")
        certificate = (self._given or LocalCertificate.create()) if self._tls else None
        try:
            context = certificate.server_context() if certificate else None
            self._server = _Server(self._address, context, self._serve)
        except BaseException:
            if certificate is not None and self._given is None:
                certificate.cleanup()
            raise
        self._certificate = certificate
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="https-server"
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close open connections, join every thread, remove our certificate."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._thread.join()
        self._server.close_connections()
        self._server.server_close()  # joins the connection threads
        if self._given is None and self._certificate is not None:
            self._certificate.cleanup()
        self._server = self._thread = self._certificate = None

    @property
    def url(self) -> str:
        """``https://HOST:PORT`` (``http://`` with ``tls=False``), once started."""
        if self._server is None:
            raise RuntimeError("not serving: call start() first")
        host, port = self._server.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request served so far, oldest first (a copy)."""
        with self._log_lock:
            return list(self._log)

    def _serve(self, request: Request) -> Reply | None:
        reply = self.app(request)
        status = reply.status if reply else None
        with self._log_lock:
            self._log.append(RecordedRequest(request.method, request.path, request.query, status))
        return reply

    @property
    def certificate(self) -> LocalCertificate:
        """The certificate presented, once started."""
        if self._certificate is None:
            raise RuntimeError("not serving: call start() first")
        return self._certificate


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, asks the app, writes its reply (or drops the connection)."""

    protocol_version = "HTTP/1.1"  # keep-alive: clients pool connections, as with Salesforce
    timeout = 10  # an idle keep-alive connection is closed after this many seconds
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms ACK wait
    server: _Server

    def do_GET(self) -> None:
        """Every method is served alike; the app routes."""
        length = int(self.headers.get("Content-Length") or 0)
        url = urlsplit(self.path)
        request = Request(
            self.command,
            url.path,
            url.query,
            {name.lower(): value for name, value in self.headers.items()},
            self.rfile.read(length) if length else b"",
        )
        reply = self.server.app(request)
        if reply is None:
            self.close_connection = True  # no answer at all: the client sees the socket close
            return
        self.send_response(reply.status)
        if reply.body:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the app keeps its own record."""


class _Server(ThreadingHTTPServer):
    """A thread per connection, with the TLS handshake (if any: ``context`` None is plain HTTP)
    done in it (a client that refuses the certificate then stalls nobody); can close every open
    connection at stop."""

    daemon_threads = False  # server_close() joins them, so stop() leaves nothing behind

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext | None, app: App) -> None:
        self.context, self.app = context, app
        self._connections: set[socket.socket] = set()
        self._closing = False
        self._guard = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(_Handler.timeout)
        try:
            conn = request
            if self.context is not None:
                conn = self.context.wrap_socket(request, server_side=True)
        except OSError:  # ssl.SSLError included: e.g. the client does not trust the CA
            return
        with conn:
            with self._guard:
                if self._closing:
                    return
                self._connections.add(conn)
            try:
                _Handler(conn, client_address, self)
            except OSError:  # the client went away mid-request
                pass
            finally:
                with self._guard:
                    self._connections.discard(conn)

    def close_connections(self) -> None:
        """Shut every open connection so its thread ends now, not at its idle timeout."""
        with self._guard:
            self._closing = True
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
