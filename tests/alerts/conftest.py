"""Alert receivers for tests: a local HTTP server (webhooks) and a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from stores import fresh_store

from harvester.history.store import Store


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers each with the next of ``statuses`` (then 200), after ``delay`` seconds."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} requests, got {len(self.received)}: {self.received}")


def start_receiver(got: Receiver) -> Callable[[], None]:
    """Serve ``got`` on a free local port (sets its url); returns how to stop it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with got.lock:
                got.received.append(Received(self.path, dict(self.headers.items()), body))
                status = got.statuses.pop(0) if got.statuses else 200
            time.sleep(got.delay)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """Makes receivers (``delay``: seconds each answer waits); all stopped at the end."""
    stops: list[Callable[[], None]] = []

    def make(delay: float = 0.0) -> Receiver:
        got = Receiver(delay=delay)
        stops.append(start_receiver(got))
        return got

    yield make
    for stop in stops:
        stop()


@pytest.fixture
def receiver(receivers: Callable[..., Receiver]) -> Receiver:
    return receivers()


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Any] = field(default_factory=list)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A local SMTP server keeping what it receives; it takes the login ``harvester`` / ``pw``
    (without TLS: it is a test server) and refuses any other."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message
    from aiosmtpd.smtp import AuthResult, LoginPassword

    with socket.socket() as probe:  # aiosmtpd needs the port before it starts
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox("127.0.0.1", port)

    class Keep(Message):  # type: ignore[misc]
        def handle_message(self, message: Any) -> None:
            box.messages.append(message)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"harvester", b"pw")
        return AuthResult(success=ok, handled=False)

    controller = Controller(Keep(), hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The history on each supported database (the test run's PostgreSQL emptied)."""
    yield from fresh_store(request, tmp_path, "runs, alert_incidents, alert_deliveries, alert_attempts CASCADE")
