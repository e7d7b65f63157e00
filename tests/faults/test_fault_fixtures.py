"""The fault-injection tools themselves: each proxy mode as psycopg and redis-py see it, and the
private servers' kill and start."""

from __future__ import annotations

import os
import socket
import threading
import time

import psycopg
import pytest
import redis
from faults import PrivatePostgres, PrivateRedis, TcpProxy, free_port, replace_netloc
from redis.backoff import NoBackoff
from redis.retry import Retry

REDIS_URL = os.environ.get("HARVESTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("HARVESTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, connect_timeout=2, autocommit=True)


def query_one(conn: psycopg.Connection[tuple[object, ...]], sql: str) -> object:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


def redis_client(url: str, timeout: float = 1.0) -> redis.Redis:
    """No retry: a broken connection shows as an error instead of being reconnected silently."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def roundtrip(conn: redis.Connection) -> object:
    conn.send_command("PING")
    return conn.read_response()


@pytest.fixture
def pg(pg_proxy: TcpProxy) -> tuple[TcpProxy, str]:
    return pg_proxy, pg_proxy.url_for(POSTGRES_URL)


def test_url_for_keeps_user_path_and_query() -> None:
    assert (
        replace_netloc("postgresql://postgres:pw@db.example:5432/test?sslmode=disable", "127.0.0.1", 40001)
        == "postgresql://postgres:pw@127.0.0.1:40001/test?sslmode=disable"
    )
    assert replace_netloc("redis://127.0.0.1/3", "127.0.0.1", 40002) == "redis://127.0.0.1:40002/3"
    port = free_port()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # free indeed


@pytest.mark.services
def test_postgres_forward_then_drop(pg: tuple[TcpProxy, str]) -> None:
    proxy, url = pg
    with pg_connect(url) as old:
        assert query_one(old, "SELECT 1") == 1
        assert proxy.connections == 1
        proxy.drop()
        assert proxy.connections == 0
        with pytest.raises(psycopg.OperationalError):
            old.execute("SELECT 1")
    with pg_connect(url) as new:
        assert query_one(new, "SELECT 2") == 2
    assert proxy.accepted == 2


@pytest.mark.services
def test_postgres_refuse_fails_fast_then_forward(pg: tuple[TcpProxy, str]) -> None:
    proxy, url = pg
    with pg_connect(url) as old:
        proxy.refuse()
        with pytest.raises(psycopg.OperationalError):
            old.execute("SELECT 1")
    began = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="refused"):
        pg_connect(url)
    assert time.monotonic() - began < 1
    proxy.forward()
    with pg_connect(url) as new:
        assert query_one(new, "SELECT 3") == 3


@pytest.mark.services
def test_postgres_stall_hangs_until_forward(pg: tuple[TcpProxy, str]) -> None:
    proxy, url = pg
    with pg_connect(url) as old:
        proxy.stall()
        answer: list[object] = []
        waiting = threading.Thread(target=lambda: answer.append(query_one(old, "SELECT 4")), daemon=True)
        waiting.start()
        began = time.monotonic()
        with pytest.raises(psycopg.OperationalError, match="timeout"):
            pg_connect(url)  # accepted, then no byte: connect_timeout (2 s, libpq's least)
        assert 1.5 < time.monotonic() - began < 5
        assert waiting.is_alive()
        assert not answer
        proxy.forward()
        waiting.join(timeout=5)
        assert answer == [4]  # the stalled query went through once the proxy forwarded again
    with pg_connect(url) as new:
        assert query_one(new, "SELECT 5") == 5


@pytest.mark.services
def test_redis_modes(redis_proxy: TcpProxy) -> None:
    url = redis_proxy.url_for(REDIS_URL)
    client = redis_client(url, timeout=0.5)
    try:
        assert client.ping()
        payload = os.urandom(3 << 20)  # larger than the proxy's buffers: both directions back-pressure
        assert client.echo(payload) == payload

        held = redis.Connection(
            host="127.0.0.1", port=redis_proxy.port, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        held.connect()
        accepted = redis_proxy.accepted
        redis_proxy.drop()
        with pytest.raises(redis.ConnectionError):
            roundtrip(held)
        held.disconnect()
        assert client.ping()  # redis-py's pool sees the idle connection closed and opens another
        assert redis_proxy.accepted == accepted + 1

        redis_proxy.refuse()
        began = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        with pytest.raises(redis.ConnectionError):
            redis_client(url).ping()
        assert time.monotonic() - began < 1
        redis_proxy.forward()
        assert client.ping()

        redis_proxy.stall()
        with pytest.raises(redis.TimeoutError):
            client.ping()
        with pytest.raises(redis.TimeoutError):
            redis_client(url, timeout=0.3).ping()
        redis_proxy.forward()
        assert client.ping()
    finally:
        client.close()


@pytest.mark.services
def test_many_connections_and_a_quick_close(redis_proxy: TcpProxy) -> None:
    url = redis_proxy.url_for(REDIS_URL)
    clients = [redis_client(url) for _ in range(40)]
    errors: list[BaseException] = []

    def work(client: redis.Redis) -> None:
        try:
            for i in range(25):
                assert client.echo(str(i)) == str(i).encode()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not errors
    assert redis_proxy.connections == 40
    for client in clients:
        client.close()
    deadline = time.monotonic() + 2
    while redis_proxy.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert redis_proxy.connections == 0  # clients' FIN closes both sides

    stalled = redis_client(url, timeout=0.2)
    redis_proxy.stall()
    with pytest.raises(redis.TimeoutError):
        stalled.ping()
    began = time.monotonic()
    redis_proxy.close()
    assert time.monotonic() - began < 1
    with pytest.raises(redis.ConnectionError):
        stalled.ping()
    stalled.close()


@pytest.mark.services
def test_private_redis_kill_and_start(private_redis: PrivateRedis) -> None:
    client = redis_client(private_redis.url)
    try:
        client.set("k", "v")
        first = private_redis.pid
        private_redis.kill()
        assert not private_redis.running
        with pytest.raises(redis.ConnectionError):
            client.get("k")
        private_redis.start()
        assert private_redis.pid != first
        assert client.get("k") is None  # no persistence: a restart loses everything
        assert client.ping()
    finally:
        client.close()


@pytest.mark.services
def test_proxy_in_front_of_a_killed_server(private_redis: PrivateRedis) -> None:
    with TcpProxy("127.0.0.1", private_redis.port) as proxy:
        client = redis_client(proxy.url_for(private_redis.url))
        try:
            assert client.ping()
            private_redis.kill()
            with pytest.raises(redis.ConnectionError):
                client.ping()
            with pytest.raises(redis.ConnectionError):
                client.ping()  # the upstream refuses: the proxy resets the client
            private_redis.start()
            assert client.ping()
        finally:
            client.close()


@pytest.mark.services
def test_private_postgres_kill_stop_and_start(private_postgres: PrivatePostgres) -> None:
    with pg_connect(private_postgres.url) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        private_postgres.kill()
        assert not private_postgres.running
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError, match="refused"):
        pg_connect(private_postgres.url)

    private_postgres.start()  # crash recovery: the committed row is still there
    with pg_connect(private_postgres.url) as conn:
        assert query_one(conn, "SELECT count(*) FROM t") == 1

    private_postgres.stop()
    assert not private_postgres.running
    private_postgres.start()
    with pg_connect(private_postgres.url) as conn:
        assert query_one(conn, "SELECT sum(x) FROM t") == 1
