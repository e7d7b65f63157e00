"""Database engines: URL normalisation, SQLite settings for several processes, aware UTC time."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ClauseElement, Connection, Dialect, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 (the driver harvester ships with)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


#: What the driver raises when the database is unreachable, locked or has the wrong schema.
DatabaseError = DBAPIError

#: Execution option marking a connection that only reads.
READ_ONLY = "harvester_read_only"


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Writers take the lock up front (IMMEDIATE), so concurrent writers wait instead of
        # deadlocking; readers (``READ_ONLY``) never queue behind them.
        # Sent on the driver connection: through exec_driver_sql it cost as much as the statement
        # it opens a transaction for (its errors are wrapped as SQLAlchemy's all the same).
        begin = "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE"
        try:
            conn.connection.dbapi_connection.execute(begin)  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            raise DBAPIError.instance(begin, None, exc, sqlite3.Error, dialect=conn.dialect) from exc


#: Connections a process keeps once it opened them: as many as the API's worker threads (anyio's
#: default limiter), so that a busy API never opens a connection only to close it after one request.
#: A pool opens connections on demand: a worker process, which uses two or three, keeps two or three.
POOL_SIZE = 40
#: Beyond POOL_SIZE, connections opened for a burst and closed when it ends.
POOL_OVERFLOW = 10


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_pragmas(engine)
        return engine
    # No pre-ping (a round trip per checkout); a dropped connection fails the run as `database`, which retries.
    # A server that does not answer fails a connection attempt in 10 s rather than the TCP timeout
    # (unless the URL sets its own ``connect_timeout``).
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
    return create_engine(
        url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_recycle=1800, connect_args=connect_args
    )


def aware(moment: datetime) -> datetime:
    """Aggregates bypass the column type on SQLite: give the zone back."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class DriverStatement:
    """A Core statement compiled once for a dialect and executed straight on the driver's cursor.

    For the two statements every run makes (claim, finish): SQLAlchemy's execution path costs about
    0.15 ms of Python per statement, more than the database takes to run it. This keeps what that
    path does for them (bind processors, positional order, errors wrapped as SQLAlchemy's, lost
    connections invalidated) and skips the rest (events, compiled cache, result objects).
    """

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.literal_execute_params or compiled.post_compile_params:
            raise TypeError("a DriverStatement takes a plain INSERT/UPDATE/SELECT without expanding parameters")
        self.dialect = dialect
        self.sql = compiled.string
        self._compiled = compiled
        # What the execution context applies too, built through the types' public API.
        processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        self._processors = processors
        self._order = tuple(compiled.positiontup or ()) if compiled.positional else None

    def parameters(self, params: dict[str, Any]) -> Any:
        values = self._compiled.construct_params(params)
        processors = self._processors
        if self._order is None:
            return {k: processors[k](v) if k in processors else v for k, v in values.items()}
        return tuple(processors[k](values[k]) if k in processors else values[k] for k in self._order)

    def execute(self, conn: Connection, params: dict[str, Any]) -> list[Any]:
        """Run on ``conn``'s driver connection (within its transaction, if any); the rows it returns."""
        values = self.parameters(params)
        dbapi = self.dialect.loaded_dbapi
        driver = conn.connection.dbapi_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.execute(self.sql, values)
            return list(cursor.fetchall()) if cursor.description is not None else []
        except dbapi.Error as exc:
            lost = self.dialect.is_disconnect(exc, driver, cursor)
            if lost:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                self.sql, values, exc, dbapi.Error, connection_invalidated=lost, dialect=self.dialect
            ) from exc
        finally:
            cursor.close()


class Database:
    """An engine plus the three ways harvester talks to it: single statements (autocommit on a
    server, see :meth:`single`), transactions, and reads (which on SQLite never take the write lock)."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        postgres = self.engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if postgres else sqlite.insert
        # One statement needs no BEGIN/COMMIT round trips on a server database.
        self._single = self.engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else self.engine
        self._read = self.engine.execution_options(**{READ_ONLY: True})
        self._held: Connection | None = None
        self._held_pid = 0
        self._held_lock = threading.Lock()
        self._inherited: list[Connection] = []

    @contextmanager
    def single(self) -> Iterator[Connection]:
        """A connection for a short write in a transaction of its own (autocommit on a server).

        A run's claim and finish come through here. Checking a connection out of the pool and back
        costs more than such a statement, so each process keeps one connection for them; a thread
        that finds it in use takes one from the pool instead. A connection the driver lost is dropped
        and the next call opens a new one.
        """
        if not self._held_lock.acquire(blocking=False):
            with self._single.begin() as pooled:
                yield pooled
            return
        try:
            conn = self._held_connection()
            try:
                with conn.begin():
                    yield conn
            finally:
                if conn.invalidated:
                    self._held = None
                    conn.close()
        finally:
            self._held_lock.release()

    def write(self, statement: DriverStatement, params: dict[str, Any]) -> list[Any]:
        """Run one of the per-run statements through :meth:`single`; the rows it returns.

        A held connection idles between runs, and the server may drop it meanwhile (a restart, an
        idle timeout): then it is replaced and the statement sent once more, so the run does not
        fail for a connection nobody was using. A second failure is the database's, and is raised.
        """
        try:
            with self.single() as conn:
                return statement.execute(conn, params)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with self.single() as conn:
            return statement.execute(conn, params)

    def _held_connection(self) -> Connection:
        if self._held is not None and self._held_pid != os.getpid():
            self._leave_inherited()  # forked without after_fork()
        if self._held is None:
            self._held, self._held_pid = self._single.connect(), os.getpid()
        return self._held

    def _leave_inherited(self) -> None:
        if self._held is not None:
            self._inherited.append(self._held)  # kept referenced: finalizing it would close the parent's socket
            self._held = None

    def after_fork(self) -> None:
        """In a child process: never use (nor close) the parent's connections, open new ones."""
        self._leave_inherited()
        self._held_lock = threading.Lock()
        self.engine.dispose(close=False)

    def close(self) -> None:
        with self._held_lock:
            if self._held is not None and self._held_pid == os.getpid():
                self._held.close()
            self._held = None
        self.engine.dispose()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from harvester.history.migrate import upgrade

        upgrade(self.engine)
