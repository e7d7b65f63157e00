"""Database engines: URL normalisation, SQLite settings for several processes, aware UTC time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError


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
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


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
    return create_engine(url, pool_size=5, max_overflow=10, pool_recycle=1800, connect_args=connect_args)


def aware(moment: datetime) -> datetime:
    """Aggregates bypass the column type on SQLite: give the zone back."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class Database:
    """An engine plus the three ways harvester talks to it: single statements (autocommit on a
    server), transactions, and reads (which on SQLite never take the write lock)."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        postgres = self.engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if postgres else sqlite.insert
        # One statement needs no BEGIN/COMMIT round trips on a server database.
        self._single = self.engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else self.engine
        self._read = self.engine.execution_options(**{READ_ONLY: True})

    def after_fork(self) -> None:
        self.engine.dispose(close=False)

    def close(self) -> None:
        self.engine.dispose()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from harvester.history.migrate import upgrade

        upgrade(self.engine)
