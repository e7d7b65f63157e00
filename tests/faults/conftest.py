"""Fault-injection fixtures: proxies in front of the shared servers, and private servers to crash.

A test combines a proxy with the per-run database of tests/conftest.py:
``pg_proxy.url_for(postgres_url)``, ``redis_proxy.url_for(redis_url)``. The shared servers are
never stopped, restarted or flushed here; their faults happen in the proxy."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from faults import MissingBinary, PrivatePostgres, PrivateRedis, TcpProxy

REQUIRE_SERVICES = os.environ.get("HARVESTER_REQUIRE_SERVICES") == "1"
REDIS_URL = os.environ.get("HARVESTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("HARVESTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _proxy_to(url: str, default_port: int) -> Iterator[TcpProxy]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        message = f"{host}:{port} ({url}) is not reachable ({type(exc).__name__}: {exc})"
        if REQUIRE_SERVICES:
            pytest.fail(message + "; HARVESTER_REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(message)
    with TcpProxy(host, port) as proxy:
        yield proxy


@pytest.fixture
def pg_proxy() -> Iterator[TcpProxy]:
    """A TcpProxy in front of the shared PostgreSQL (host:port of HARVESTER_TEST_POSTGRES_URL)."""
    yield from _proxy_to(POSTGRES_URL, 5432)


@pytest.fixture
def redis_proxy() -> Iterator[TcpProxy]:
    """A TcpProxy in front of the shared Redis (host:port of HARVESTER_TEST_REDIS_URL)."""
    yield from _proxy_to(REDIS_URL, 6379)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of the test's own, running; skipped when redis-server is not installed."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH")
    with PrivateRedis() as server:
        yield server


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the test's own, running; skipped when PostgreSQL is not installed."""
    try:
        server = PrivatePostgres()
    except MissingBinary as exc:
        pytest.skip(str(exc))
    with server:
        yield server
