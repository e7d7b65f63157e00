"""A deployment whose workers (one process each) know the rate-limited collectors: the embedded
default, and a Redis broker (whose Redis then holds the buckets; history stays in SQLite)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "docs"))  # test_tutorial: the reader of a page's console blocks


@pytest.fixture(params=["embedded", "redis"])
def limited_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    import redis
    from stack import Stack

    overrides: dict[str, object] = {"collectors": ["rate_limited_collectors"], "concurrency": 1}
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()  # no message or bucket of an earlier test
        overrides["broker_url"] = url
    made = Stack(tmp_path / "stack", **overrides)
    yield made
    made.close()
