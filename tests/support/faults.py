"""Fault injection for tests: a TCP proxy that can refuse, drop or stall connections, and private
Redis and PostgreSQL servers that a test may kill -9 and start again.

None of this ever stops, restarts or flushes a shared server: a fault on a shared server is
injected in a ``TcpProxy`` in front of it; a crash is staged on a ``PrivateRedis`` or
``PrivatePostgres`` of the test's own.

Standard library only (no harvester import), so it keeps working whatever harvester looks like.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import random
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

LOCALHOST = "127.0.0.1"

__all__ = [
    "MissingBinary",
    "PrivatePostgres",
    "PrivateRedis",
    "TcpProxy",
    "find_postgres_bindir",
    "free_port",
    "replace_netloc",
]


class MissingBinary(RuntimeError):
    """A server binary (redis-server, initdb, postgres) is not installed; fixtures skip on it."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port: int, host: str = LOCALHOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))  # no SO_REUSEADDR: a port in TIME_WAIT counts as taken
        except OSError:
            return False
    return True


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port nothing is bound to on ``host``.

    Picked below the kernel's ephemeral range where possible, so that no outgoing connection of
    this or another process takes the port between now and the moment a server binds it (or
    binds it again after a restart)."""
    low, _ = _ephemeral_range()
    if low > 20000:
        for _ in range(50):
            port = random.randrange(20000, low)
            if _bindable(port, host):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def replace_netloc(url: str, host: str, port: int) -> str:
    """``url`` with its host:port replaced, user, password, path and query kept."""
    parts = urlsplit(url)
    userinfo, at, _ = parts.netloc.rpartition("@")
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{hostport}"))


def _close(sock: socket.socket | None, *, reset: bool = False) -> None:
    if sock is None:
        return
    if reset:
        with contextlib.suppress(OSError):  # SO_LINGER 0: close() sends RST, not FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.close()


# --------------------------------------------------------------------------------------------
# TcpProxy


FORWARD = "forward"
REFUSE = "refuse"
STALL = "stall"
_BUFFER_LIMIT = 1 << 20  # per direction; above it the proxy stops reading that side
_CHUNK = 1 << 16


class _Pair:
    """One client connection and its upstream connection."""

    __slots__ = ("c2u", "client", "client_eof", "connecting", "events", "u2c", "upstream", "upstream_eof")

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self.connecting = False
        self.c2u = bytearray()
        self.u2c = bytearray()
        self.client_eof = False  # the client has shut its sending side
        self.upstream_eof = False
        self.events: dict[socket.socket, int] = {}

    @property
    def connected(self) -> bool:
        return self.upstream is not None and not self.connecting

    @property
    def finished(self) -> bool:
        return self.client_eof and self.upstream_eof and not self.c2u and not self.u2c


class TcpProxy:
    """A TCP proxy on 127.0.0.1:``port`` in front of ``target_host:target_port``.

    Modes, switched from any thread; each call returns once the proxy thread has applied it:

    - ``forward()`` (the default): bytes pass both ways.
    - ``refuse()``: every open connection is reset and new ones are refused (ECONNREFUSED), as
      when the server is down. The port stays reserved, so ``forward()`` listens on it again.
    - ``drop()``: every open connection is closed, new ones are forwarded: a server restart as
      its clients see it.
    - ``stall()``: connections stay open but no byte passes; new connections are accepted and
      hang (the upstream connection is only opened on ``forward()``): a network partition.

    ``drop()`` and ``refuse()`` send RST by default (``reset=False``: FIN, an orderly close).
    ``connections`` is the number of client connections open now (while stalled, a client that
    closed its end still counts: the proxy reads nothing), ``accepted`` the number accepted since
    the start. ``url_for`` rewrites any URL's host:port; it does not check that the URL names the
    proxy's target. One selector thread serves every connection; ``close()`` resets them all."""

    def __init__(self, target_host: str, target_port: int, *, host: str = LOCALHOST, port: int | None = None) -> None:
        family, _, _, _, sockaddr = socket.getaddrinfo(target_host, target_port, type=socket.SOCK_STREAM)[0]
        self.target: tuple[str, int] = (target_host, target_port)
        self._target_family = family
        self._target_addr = sockaddr
        self.host = host
        # The reservation: bound, never listening. It holds the port while the proxy refuses, so no
        # other socket (an outgoing connection's autobind included) can take it.
        self._reserve = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._reserve.bind((host, port or 0))
        except OSError:
            self._reserve.close()
            raise
        self.port: int = self._reserve.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._commands: deque[tuple[Callable[[], None], threading.Event]] = deque()
        self._pairs: set[_Pair] = set()
        self._listener: socket.socket | None = None
        self._mode = FORWARD
        self._accepted = 0
        self._closed = False
        self._running = True
        self._error: BaseException | None = None
        self._listen()
        self._thread = threading.Thread(
            target=self._run, name=f"TcpProxy:{self.port}->{target_host}:{target_port}", daemon=True
        )
        self._thread.start()

    # --- the test thread's side

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def connections(self) -> int:
        return len(self._pairs)

    @property
    def accepted(self) -> int:
        return self._accepted

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def url_for(self, url: str) -> str:
        """``url`` (postgresql://, redis://, amqp://...) pointed at this proxy instead of its server."""
        return replace_netloc(url, self.host, self.port)

    def forward(self) -> None:
        self._call(self._do_forward)

    def refuse(self, *, reset: bool = True) -> None:
        self._call(lambda: self._do_refuse(reset))

    def drop(self, *, reset: bool = True) -> None:
        self._call(lambda: self._do_drop(reset))

    def stall(self) -> None:
        self._call(self._do_stall)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self._call(self._do_stop, timeout=1.0)
            self._thread.join(timeout=1.0)
        if not self._thread.is_alive():  # else the thread still owns them; it is a daemon
            self._close_all(reset=True)
            for sock in (self._listener, self._wake_r, self._wake_w):
                _close(sock)
            self._listener = None
            self._selector.close()
        _close(self._reserve)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<TcpProxy {self.host}:{self.port} -> {self.target[0]}:{self.target[1]} {self._mode}>"

    def _call(self, action: Callable[[], None], timeout: float = 5.0) -> None:
        if self._closed and action != self._do_stop:
            raise RuntimeError("the proxy is closed")
        if not self._thread.is_alive():
            raise RuntimeError("the proxy thread has stopped") from self._error
        done = threading.Event()
        self._commands.append((action, done))
        with contextlib.suppress(OSError):  # the pipe is full: the thread is awake anyway
            self._wake_w.send(b"x")
        if not done.wait(timeout):
            raise RuntimeError(f"the proxy thread did not answer within {timeout} s") from self._error

    # --- the proxy thread

    def _run(self) -> None:
        try:
            while self._running:
                for key, mask in self._selector.select(timeout=1.0):
                    if key.data is None:
                        self._drain_commands()
                    elif key.data == "listener":
                        self._accept()
                    else:
                        self._serve(key.data, key.fileobj, mask)  # type: ignore[arg-type]
        except BaseException as exc:  # the test thread sees it as the cause of its next call's failure
            self._error = exc
        finally:
            self._running = False
            self._drain_commands()  # no caller waits for ever

    def _drain_commands(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        while self._commands:
            action, done = self._commands.popleft()
            try:
                if self._running:
                    action()
            finally:
                done.set()

    def _do_forward(self) -> None:
        self._mode = FORWARD
        self._listen()
        for pair in list(self._pairs):
            if pair.upstream is None:
                self._connect_upstream(pair)
            else:
                self._update(pair)

    def _do_stall(self) -> None:
        self._mode = STALL
        self._listen()
        for pair in list(self._pairs):
            self._update(pair)

    def _do_drop(self, reset: bool) -> None:
        self._close_all(reset=reset)
        self._do_forward()

    def _do_refuse(self, reset: bool) -> None:
        self._mode = REFUSE
        if self._listener is not None:
            self._selector.unregister(self._listener)
            _close(self._listener)  # connections still in its backlog are reset by the kernel
            self._listener = None
        self._close_all(reset=reset)

    def _do_stop(self) -> None:
        self._running = False
        self._close_all(reset=True)
        if self._listener is not None:
            self._selector.unregister(self._listener)
            _close(self._listener)
            self._listener = None

    def _listen(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(512)
        listener.setblocking(False)
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, "listener")

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO):  # that client is gone already
                    continue
                return  # EMFILE and the like: the connection waits in the backlog

            self._accepted += 1
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = _Pair(client)
            self._pairs.add(pair)
            if self._mode == FORWARD:
                self._connect_upstream(pair)
            else:
                self._update(pair)

    def _connect_upstream(self, pair: _Pair) -> None:
        upstream = socket.socket(self._target_family, socket.SOCK_STREAM)
        upstream.setblocking(False)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair.upstream = upstream
        code = upstream.connect_ex(self._target_addr)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            self._close_pair(pair, reset=True)  # the server is down: so is the connection
            return
        pair.connecting = code != 0
        self._update(pair)

    def _serve(self, pair: _Pair, sock: socket.socket, mask: int) -> None:
        if pair not in self._pairs:
            return
        try:
            if pair.connecting and sock is pair.upstream:
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    self._close_pair(pair, reset=True)
                    return
                pair.connecting = False
            else:
                if mask & selectors.EVENT_WRITE:
                    self._write(pair, sock)
                if mask & selectors.EVENT_READ:
                    self._read(pair, sock)
        except OSError:
            self._close_pair(pair, reset=True)
            return
        if pair.finished:
            self._close_pair(pair, reset=False)
        elif pair in self._pairs:
            self._update(pair)

    def _read(self, pair: _Pair, sock: socket.socket) -> None:
        try:
            data = sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        from_client = sock is pair.client
        other = pair.upstream if from_client else pair.client
        assert other is not None
        buffer = pair.c2u if from_client else pair.u2c
        if not data:
            if from_client:
                pair.client_eof = True
            else:
                pair.upstream_eof = True
            if not buffer:
                other.shutdown(socket.SHUT_WR)
            return
        buffer += data
        self._write(pair, other)

    def _write(self, pair: _Pair, sock: socket.socket) -> None:
        to_client = sock is pair.client
        buffer = pair.u2c if to_client else pair.c2u
        if not buffer or self._mode != FORWARD:
            return
        try:
            sent = sock.send(buffer)
        except (BlockingIOError, InterruptedError):
            return
        del buffer[:sent]
        if not buffer and (pair.upstream_eof if to_client else pair.client_eof):
            sock.shutdown(socket.SHUT_WR)

    def _update(self, pair: _Pair) -> None:
        """Register each socket of ``pair`` for what it may do in the current mode."""
        client_events = upstream_events = 0
        if self._mode == FORWARD and pair.upstream is not None:
            if pair.connecting:
                upstream_events = selectors.EVENT_WRITE
            else:
                if not pair.client_eof and len(pair.c2u) < _BUFFER_LIMIT:
                    client_events |= selectors.EVENT_READ
                if pair.u2c:
                    client_events |= selectors.EVENT_WRITE
                if not pair.upstream_eof and len(pair.u2c) < _BUFFER_LIMIT:
                    upstream_events |= selectors.EVENT_READ
                if pair.c2u:
                    upstream_events |= selectors.EVENT_WRITE
        self._register(pair, pair.client, client_events)
        if pair.upstream is not None:
            self._register(pair, pair.upstream, upstream_events)

    def _register(self, pair: _Pair, sock: socket.socket, events: int) -> None:
        current = pair.events.get(sock, 0)
        if events == current:
            return
        if not current:
            self._selector.register(sock, events, pair)
        elif not events:
            self._selector.unregister(sock)
        else:
            self._selector.modify(sock, events, pair)
        pair.events[sock] = events

    def _close_pair(self, pair: _Pair, *, reset: bool) -> None:
        self._pairs.discard(pair)
        for sock, events in pair.events.items():
            if events:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
        pair.events.clear()
        _close(pair.client, reset=reset)
        _close(pair.upstream, reset=reset)

    def _close_all(self, *, reset: bool) -> None:
        for pair in list(self._pairs):
            self._close_pair(pair, reset=reset)


# --------------------------------------------------------------------------------------------
# Private servers

_live: set[Any] = set()  # servers not closed yet


@atexit.register
def _close_leftovers() -> None:  # a test that died before its cleanup leaves no server behind
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.close()


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(_pid_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes {pids} still run {timeout} s after SIGKILL")
        time.sleep(0.01)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class _PrivateServer(ABC):
    """What a private server's lifecycle shares: close (kill, remove its folder), context manager, repr."""

    dir: Path
    url: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None
    start_seconds: float

    @property
    @abstractmethod
    def running(self) -> bool: ...

    @abstractmethod
    def kill(self) -> None: ...

    def _await(self, ready: Callable[[], bool], what: str, begun: float, timeout: float) -> None:
        """Wait until ``ready()``; a server that exits or takes longer than ``timeout`` is killed."""
        deadline = begun + timeout
        while not ready():
            if self.proc is None or self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{what} on port {self.port} did not start:\n{_tail(self.log)}")
            time.sleep(0.01)
        self.start_seconds = time.monotonic() - begun

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        _live.discard(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} {'running' if self.running else 'stopped'}>"


class PrivateRedis(_PrivateServer):
    """A ``redis-server`` of the test's own on 127.0.0.1:``port`` (no persistence), in a temp dir.

    ``kill()`` is ``kill -9``; ``start()`` starts it again on the same port, empty. Started by
    the constructor unless ``start=False``; ``start()`` returns once it answers PING."""

    def __init__(self, port: int | None = None, *, binary: str | None = None, start: bool = True) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise MissingBinary("redis-server is not on PATH")
        self.binary = found
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-redis-"))
        self.log = self.dir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None
        _live.add(self)
        if start:
            self.start()

    @property
    def url(self) -> str:
        return f"redis://{LOCALHOST}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running and self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        begun = time.monotonic()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    *("--port", str(self.port), "--bind", LOCALHOST, "--dir", str(self.dir)),
                    *("--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                start_new_session=True,
            )
        self._await(self._pong, "redis-server", begun, timeout)

    def _pong(self) -> bool:
        try:
            with socket.create_connection((LOCALHOST, self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """``kill -9``: every connection breaks, every key is lost."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """An orderly shutdown (SIGTERM); nothing is saved."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def find_postgres_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/*/bin`` with initdb, else the folder of ``initdb`` on PATH."""

    def version(path: Path) -> tuple[int, ...]:
        name = path.parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "postgres").exists():
            return bindir
    initdb = shutil.which("initdb")
    if initdb and (Path(initdb).parent / "postgres").exists():
        return Path(initdb).parent
    raise MissingBinary("no PostgreSQL server binaries (initdb, postgres) found")


INITDB_OPTIONS = ("-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")


class PrivatePostgres(_PrivateServer):
    """A PostgreSQL cluster of the test's own on 127.0.0.1:``port``: trust auth, user ``postgres``,
    data and unix socket in a temp dir, fsync off (a commit survives ``kill()``, not a host crash).

    The constructor runs initdb (``init_seconds``) and, unless ``start=False``, starts the server
    (``start_seconds``, the last start). As root the server runs as the ``postgres`` OS user.
    ``kill()`` is ``kill -9`` of the postmaster and its backends (a crash: the next ``start()``
    runs crash recovery); ``stop()`` is ``pg_ctl stop -m immediate`` (``mode="fast"`` or
    ``"smart"`` for the others). ``close()`` stops it and removes the folder."""

    _SIGNALS = {"immediate": signal.SIGQUIT, "fast": signal.SIGINT, "smart": signal.SIGTERM}

    def __init__(
        self,
        port: int | None = None,
        *,
        bindir: str | Path | None = None,
        settings: dict[str, str] | None = None,
        start: bool = True,
    ) -> None:
        self.bindir = Path(bindir) if bindir else find_postgres_bindir()
        self.port = port or free_port()
        self.settings = {
            "listen_addresses": LOCALHOST,
            "fsync": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "max_connections": "100",
            **(settings or {}),
        }
        self._as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            import pwd

            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise MissingBinary("running as root and there is no postgres OS user to run PostgreSQL") from None
            self._as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self.dir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.init_seconds: float | None = None
        self.start_seconds: float | None = None
        _live.add(self)
        try:
            if self._as_user:
                os.chown(self.dir, self._as_user["user"], self._as_user["group"])
            self._initdb()
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{LOCALHOST}:{self.port}/postgres"

    def url_for_database(self, name: str) -> str:
        return f"postgresql://postgres@{LOCALHOST}:{self.port}/{name}"

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while it runs."""
        return self.proc.pid if self.running and self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _env(self) -> dict[str, str]:
        return {"PATH": f"{self.bindir}:/usr/bin:/bin", "LC_ALL": "C", "HOME": str(self.dir), "PGTZ": "UTC"}

    def _initdb(self) -> None:
        begun = time.monotonic()
        done = subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", *INITDB_OPTIONS],
            cwd=self.dir,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=120,
            **self._as_user,
        )
        if done.returncode:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout.decode()}{done.stderr.decode()}")
        self.init_seconds = time.monotonic() - begun

    def start(self, timeout: float = 30.0) -> None:
        """Start the postmaster (in the foreground of a child process, as ``pg_ctl start -w`` would
        in the background) and return once it accepts connections."""
        if self.running:
            return
        begun = time.monotonic()
        options = [f"-c{name}={value}" for name, value in self.settings.items()]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.dir),
                    *options,
                ],
                cwd=self.dir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._as_user,
            )
        self._await(self._ready, "PostgreSQL", begun, timeout)

    def _ready(self) -> bool:
        """As ``pg_ctl -w`` decides: postmaster.pid names this postmaster and says "ready"."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        if len(lines) < 8 or self.proc is None or lines[0].strip() != str(self.proc.pid):
            return False
        if lines[7].strip() != "ready":
            return False
        try:
            with socket.create_connection((LOCALHOST, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        """``kill -9`` of the postmaster and of every backend it forked: a crash of the server."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            backends = _children(self.proc.pid)
            self.proc.send_signal(signal.SIGKILL)
            for pid in backends:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            _wait_gone(backends, timeout=10)

    def stop(self, mode: str = "immediate", timeout: float = 30.0) -> None:
        """``pg_ctl stop -m MODE`` (immediate: SIGQUIT, fast: SIGINT, smart: SIGTERM), then wait."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(self._SIGNALS[mode])
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        super().close()
