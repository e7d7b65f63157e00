"""Limiter: blocking until a bucket grants tokens, and telling the run what it waits for."""

from __future__ import annotations

import logging

import pytest

from harvester.errors import ConfigError, TransientError
from harvester.ratelimit.bucket import Rate
from harvester.ratelimit.limiter import Limiter, LimitStats, MemoryBucket

TEN = Rate(10, 1.0)


class Scripted:
    """A bucket that answers a fixed list of waits (0: granted), and records what it is told."""

    def __init__(self, *waits: float, fail_record: bool = False) -> None:
        self.waits = list(waits)
        self.recorded: list[tuple[str, float]] = []
        self.fail_record = fail_record

    def take(self, name, rate, tokens):
        answer = self.waits.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def record_wait(self, name, seconds):
        if self.fail_record:
            raise OSError("stats store down")
        self.recorded.append((name, seconds))

    def stats(self):
        return []


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _limiter(bucket, time: FakeTime) -> Limiter:
    return Limiter(bucket, sleep=time.sleep, clock=time.clock)


def test_granted_at_once_no_wait_is_reported_or_counted():
    time, reports, bucket = FakeTime(), [], Scripted(0.0)
    assert _limiter(bucket, time).acquire("github", TEN, 1, reports.append) == 0.0
    assert (time.slept, reports, bucket.recorded) == ([], [], [])


def test_a_wait_sleeps_as_told_reports_its_start_and_end_and_is_counted_once():
    time, reports, bucket = FakeTime(), [], Scripted(0.3, 0.2, 0.0)
    waited = _limiter(bucket, time).acquire("github", TEN, 1, reports.append)
    assert time.slept == [0.3, 0.2]
    assert waited == pytest.approx(0.5)
    assert reports == ["rate limit github", None]
    assert bucket.recorded == [("github", pytest.approx(0.5))]


def test_a_failing_report_does_not_stop_the_wait(caplog):
    time, bucket = FakeTime(), Scripted(0.1, 0.0)

    def report(_text):
        raise OSError("database is down")

    with caplog.at_level(logging.WARNING):
        assert _limiter(bucket, time).acquire("github", TEN, 1, report) == pytest.approx(0.1)
    assert "could not record a run as waiting for rate limit github" in caplog.text


def test_a_failing_wait_count_does_not_fail_the_take(caplog):
    time, bucket = FakeTime(), Scripted(0.1, 0.0, fail_record=True)
    with caplog.at_level(logging.WARNING):
        assert _limiter(bucket, time).acquire("github", TEN) == pytest.approx(0.1)
    assert "rate limit github: the wait was not counted (OSError: stats store down)" in caplog.text


def test_a_bucket_that_fails_mid_wait_fails_the_take_and_the_run_stops_waiting():
    time, reports = FakeTime(), []
    bucket = Scripted(0.1, TransientError("rate limit github: Redis did not answer"))
    with pytest.raises(TransientError, match="Redis did not answer"):
        _limiter(bucket, time).acquire("github", TEN, 1, reports.append)
    assert reports == ["rate limit github", None]


def test_a_take_of_no_tokens_is_a_config_error():
    with pytest.raises(ConfigError, match=r"limit\('github', tokens=0\): take at least one token"):
        _limiter(Scripted(), FakeTime()).acquire("github", TEN, 0)


def test_memory_bucket_spaces_tokens_and_counts_them():
    time = FakeTime()
    limiter = Limiter(MemoryBucket(clock=time.clock), sleep=time.sleep, clock=time.clock)
    waits = [limiter.acquire("github", TEN) for _ in range(3)]
    assert waits == [0.0, pytest.approx(0.1), pytest.approx(0.1)]
    assert limiter.bucket.stats() == [LimitStats("github", "10/s", 3, 2, pytest.approx(0.2))]
