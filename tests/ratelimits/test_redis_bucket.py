"""The Redis bucket: the Lua script answers the pure function's table, atomically, on Redis's clock."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from bucket_cases import CASES, TEN_A_SECOND

from harvester.dispatch.rate_limits import PREFIX, TIMEOUT, RedisBucket
from harvester.errors import TransientError, classify_failure, is_retryable
from harvester.ratelimit.bucket import Rate
from harvester.ratelimit.limiter import LimitStats

#: A rate whose second token is a day away: a test never sees it refill.
DAILY = Rate(1, 86400.0)

pytestmark = pytest.mark.services


@pytest.fixture
def bucket(redis_url):
    made = RedisBucket(redis_url)
    yield made
    made.close()


@pytest.mark.parametrize("case", CASES, ids=[c.why for c in CASES])
def test_the_script_is_the_pure_function(bucket, case):
    name = f"case-{uuid.uuid4().hex}"
    if case.state is not None:
        bucket.client.hset(PREFIX + name, mapping={"level": repr(case.state.level), "at": repr(case.state.at)})
    wait = bucket.take(name, case.rate, case.tokens, now=case.now)
    assert (wait == 0) is case.granted
    assert wait == pytest.approx(case.wait)
    if case.granted:
        level, at = bucket.client.hmget(PREFIX + name, "level", "at")
        assert float(level) == pytest.approx(case.after.level)
        assert float(at) == case.after.at


def test_on_redis_time_a_second_take_waits_for_the_next_token(bucket):
    name = f"live-{uuid.uuid4().hex}"
    assert bucket.take(name, DAILY, 1) == 0
    assert 86000 < bucket.take(name, DAILY, 1) <= 86400


def test_stats_count_granted_tokens_and_waits(bucket):
    name = f"stats-{uuid.uuid4().hex}"
    bucket.take(name, DAILY, 1)
    bucket.take(name, DAILY, 1)  # refused: not counted
    bucket.record_wait(name, 0.25)
    mine = [s for s in bucket.stats() if s.name == name]
    assert mine == [LimitStats(name, "1/d", 1, 1, 0.25)]


def test_an_unreachable_redis_fails_the_take_retryably_without_its_password():
    bucket = RedisBucket("redis://:s3cret-pass@127.0.0.1:1/0")
    with pytest.raises(TransientError) as caught:
        bucket.take("github", TEN_A_SECOND, 1)
    assert str(caught.value).startswith("rate limit github: Redis did not answer (ConnectionError")
    assert "s3cret" not in str(caught.value)
    assert is_retryable(classify_failure(caught.value))


def test_stats_from_a_redis_that_does_not_answer_time_out_soon():
    """A scrape of /metrics must not hang: a server that accepts and never answers times out after
    STATS_TIMEOUT (a take would wait TIMEOUT)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        bucket = RedisBucket(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        started = time.monotonic()
        with pytest.raises(Exception, match=r"Timeout|timed out"):
            bucket.stats()
        assert time.monotonic() - started < TIMEOUT
