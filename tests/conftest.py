"""Shared fixtures: real services (skipped when absent, failed when HARVESTER_REQUIRE_SERVICES=1),
per-run Redis DB and PostgreSQL database, and worker subprocesses."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "support"
sys.path.insert(0, str(SUPPORT))

REQUIRE_SERVICES = os.environ.get("HARVESTER_REQUIRE_SERVICES") == "1"
REDIS_URL = os.environ.get("HARVESTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("HARVESTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if REQUIRE_SERVICES:
        pytest.fail(message + "; HARVESTER_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer HARVESTER_* variable or .env leaks into a test; each test runs in its own folder."""
    for name in list(os.environ):
        if (
            name.startswith("HARVESTER_")
            and not name.startswith("HARVESTER_TEST_")
            and name != ("HARVESTER_REQUIRE_SERVICES")
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


#: Redis DB where test sessions claim their DB (never flushed by a test); runs use DBs 1-12
#: (the benchmark takes 13 and 14).
REDIS_REGISTRY_DB = 15


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database of its own for this test session (an xdist worker is a session), flushed at the end.

    Each DB is claimed in a registry DB with SET NX, so two sessions (CI and a developer's run,
    or two xdist workers) never share one, even while tests flush their own."""
    import redis

    base = REDIS_URL.rsplit("/", 1)[0]
    try:
        registry = redis.Redis.from_url(f"{base}/{REDIS_REGISTRY_DB}", socket_connect_timeout=2)
        registry.ping()
    except Exception as exc:
        unavailable(f"Redis at {REDIS_URL}", exc)
    token = str(uuid.uuid4())
    for db in range(1, 13):
        key = f"harvester-test-db:{db}"
        if registry.set(key, token, nx=True, ex=3 * 3600):  # a crashed session's claim lapses
            client = redis.Redis.from_url(f"{base}/{db}")
            client.flushdb()  # whatever a crashed session left
            yield f"{base}/{db}"
            client.flushdb()
            if registry.get(key) == token.encode():
                registry.delete(key)
            return
    pytest.fail("no free Redis database (1-12) left for this test session")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of its own for this test run, migrated once, dropped at the end."""
    from sqlalchemy import create_engine, text

    from harvester.history.engine import normalise_url
    from harvester.history.store import Store

    try:
        admin = create_engine(
            normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with admin.connect() as conn:
            name = f"harvester_test_{uuid.uuid4().hex[:10]}"
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        unavailable(f"PostgreSQL at {POSTGRES_URL}", exc)
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    store = Store(url)
    store.upgrade()
    store.close()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _stack_overrides(kind: str, request: pytest.FixtureRequest) -> dict[str, object]:
    if kind == "embedded":
        return {}
    import redis as redis_client

    redis = request.getfixturevalue("redis_url")
    postgres = request.getfixturevalue("postgres_url")
    redis_client.Redis.from_url(redis).flushdb()  # no message of an earlier test reaches this one
    truncate_history(postgres)  # nor any run, lock or occurrence
    return {"broker_url": redis, "database_url": postgres}


@pytest.fixture(params=["embedded", "redis+postgres"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A deployment per test: the embedded default, and Redis broker + PostgreSQL history."""
    from stack import Stack

    made = Stack(tmp_path / "stack", **_stack_overrides(request.param, request))
    made.kind = request.param  # type: ignore[attr-defined]
    yield made
    made.close()


RABBITMQ_URL = os.environ.get("HARVESTER_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture
def rabbitmq_url() -> str:
    """RabbitMQ, with harvester's queue purged so no message of an earlier test arrives."""
    from kombu import Connection

    try:
        with Connection(RABBITMQ_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
            with contextlib.suppress(Exception):  # no such queue yet
                conn.channel().queue_purge("harvester")
    except Exception as exc:
        unavailable(f"RabbitMQ at {RABBITMQ_URL}", exc)
    return RABBITMQ_URL


def truncate_history(url: str) -> None:
    from sqlalchemy import text

    from harvester.history.store import Store

    store = Store(url)
    with store.engine.begin() as conn:
        conn.execute(text("TRUNCATE runs, run_attempts, run_logs, collector_state, records, occurrences"))
    store.close()
