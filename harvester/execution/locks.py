"""Overlap locks: one live run per collector + params. Redis when the broker is Redis, else the database.

A lock is owned by a run id (so a redelivered attempt of the same run takes over its own lock),
lives ``ttl`` seconds and is renewed by the heartbeat while its run is alive; a lock whose
holder died expires on its own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete, or_, select, update

from harvester.history.engine import utcnow
from harvester.history.models import locks
from harvester.history.store import Store


class Locks(Protocol):
    def acquire(self, key: str, owner: str) -> bool: ...

    def renew(self, key: str, owner: str) -> bool: ...

    def release(self, key: str, owner: str) -> None: ...

    def holder(self, key: str) -> str | None: ...


_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLocks:
    """Compare-and-set locks in Redis (Lua scripts, so each step is atomic)."""

    def __init__(self, url: str, ttl: float, prefix: str = "harvester:lock:") -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.ttl_ms = int(ttl * 1000)
        self.prefix = prefix
        self._acquire = self.client.register_script(_ACQUIRE)
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(_RELEASE)

    def acquire(self, key: str, owner: str) -> bool:
        return bool(self._acquire(keys=[self.prefix + key], args=[owner, self.ttl_ms]))

    def renew(self, key: str, owner: str) -> bool:
        return bool(self._renew(keys=[self.prefix + key], args=[owner, self.ttl_ms]))

    def release(self, key: str, owner: str) -> None:
        self._release(keys=[self.prefix + key], args=[owner])

    def holder(self, key: str) -> str | None:
        value = self.client.get(self.prefix + key)
        return value.decode() if isinstance(value, bytes) else None

    def after_fork(self) -> None:
        self.client.connection_pool.reset()


class DatabaseLocks:
    """The same contract on the ``locks`` table: an upsert that only wins an expired or own row."""

    def __init__(self, store: Store, ttl: float) -> None:
        self.store = store
        self.ttl = timedelta(seconds=ttl)

    def acquire(self, key: str, owner: str) -> bool:
        now = utcnow()
        insert = self.store._insert(locks).values(key=key, owner=owner, expires_at=now + self.ttl)
        stmt = insert.on_conflict_do_update(
            index_elements=[locks.c.key],
            set_={"owner": owner, "expires_at": now + self.ttl},
            where=or_(locks.c.owner == owner, locks.c.expires_at < now),
        ).returning(locks.c.owner)
        with self.store.engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def renew(self, key: str, owner: str) -> bool:
        with self.store.engine.begin() as conn:
            done = conn.execute(
                update(locks).where(locks.c.key == key, locks.c.owner == owner).values(expires_at=utcnow() + self.ttl)
            )
            return done.rowcount == 1

    def release(self, key: str, owner: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(delete(locks).where(locks.c.key == key, locks.c.owner == owner))

    def holder(self, key: str) -> str | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(locks.c.owner, locks.c.expires_at).where(locks.c.key == key)).first()
        return row.owner if row is not None and row.expires_at >= utcnow() else None
