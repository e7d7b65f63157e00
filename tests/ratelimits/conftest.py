"""A deployment whose workers (one process each) know the rate-limited collectors: the embedded
default (buckets in SQLite), a Redis broker (buckets in that Redis; history in SQLite), and
PostgreSQL history with the embedded broker (buckets in PostgreSQL)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "docs"))  # test_tutorial: the reader of a page's console blocks


@pytest.fixture(params=["embedded", "redis", "postgres"])
def limited_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    import redis
    from sqlalchemy import text
    from stack import Stack

    from harvester.history.store import Store

    overrides: dict[str, object] = {"collectors": ["rate_limited_collectors"], "concurrency": 1}
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()  # no message or bucket of an earlier test
        overrides["broker_url"] = url
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        store = Store(url)
        with store.engine.begin() as conn:  # no run or bucket of an earlier test
            conn.execute(text("TRUNCATE runs, run_attempts, run_logs, occurrences, rate_limits CASCADE"))
        store.close()
        overrides["database_url"] = url
    made = Stack(tmp_path / "stack", **overrides)
    yield made
    made.close()
