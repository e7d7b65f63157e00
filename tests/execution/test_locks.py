"""Overlap locks, Redis and database flavours, against one contract."""

from __future__ import annotations

import time
import uuid

import pytest

from harvester.execution.locks import DatabaseLocks, RedisLocks
from harvester.history.store import Store


@pytest.fixture(params=["redis", "sqlite", "postgresql"])
def locks(request, tmp_path):
    ttl = 1.5
    if request.param == "redis":
        yield RedisLocks(request.getfixturevalue("redis_url"), ttl, prefix=f"test:{uuid.uuid4()}:")
        return
    url = f"sqlite:///{tmp_path / 'l.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = Store(url)
    store.upgrade()
    yield DatabaseLocks(store, ttl)
    store.close()


def test_one_holder_at_a_time_reentrant_for_the_same_owner(locks):
    key = str(uuid.uuid4())
    assert locks.acquire(key, "run-1")
    assert not locks.acquire(key, "run-2")
    assert locks.acquire(key, "run-1")  # a redelivered attempt of the same run takes over its own lock
    assert locks.holder(key) == "run-1"
    locks.release(key, "run-2")  # not the owner: no effect
    assert locks.holder(key) == "run-1"
    locks.release(key, "run-1")
    assert locks.holder(key) is None
    assert locks.acquire(key, "run-2")


def test_lock_expires_unless_renewed(locks):
    key = str(uuid.uuid4())
    assert locks.acquire(key, "run-1")
    time.sleep(0.9)
    assert locks.renew(key, "run-1")
    time.sleep(0.9)  # past the first expiry (1.5 s), well before the renewed one (2.4 s)
    assert not locks.acquire(key, "run-2")
    time.sleep(1.2)
    assert locks.acquire(key, "run-2")  # expired: its holder stopped renewing
    assert not locks.renew(key, "run-1")
