"""A run stopped by its own time limit is not retried unless its collector opts in; timeouts of the
calls a collector makes still are."""

from __future__ import annotations

import httpx
import pytest
from billiard.exceptions import TimeLimitExceeded
from celery.exceptions import SoftTimeLimitExceeded

from harvester import Collector
from harvester.errors import FailureCategory, classify_failure, is_own_time_limit
from harvester.execution.retry import RetryPolicy
from harvester.testing import CollectorHarness

OWN_LIMITS = [SoftTimeLimitExceeded(), TimeLimitExceeded(1830)]
CALL_TIMEOUTS = [httpx.ReadTimeout("read timed out"), TimeoutError("timed out")]


@pytest.mark.parametrize("exc", OWN_LIMITS, ids=type)
def test_the_own_time_limit_is_a_timeout_that_is_not_retried(exc):
    assert classify_failure(exc) is FailureCategory.TIMEOUT
    assert is_own_time_limit(exc)
    assert not RetryPolicy().should_retry(FailureCategory.TIMEOUT, 1, exc)
    assert RetryPolicy(retry_time_limit=True).should_retry(FailureCategory.TIMEOUT, 1, exc)


@pytest.mark.parametrize("exc", CALL_TIMEOUTS, ids=type)
def test_timeouts_of_the_calls_a_collector_makes_are_retried(exc):
    assert classify_failure(exc) is FailureCategory.TIMEOUT
    assert not is_own_time_limit(exc)
    assert RetryPolicy().should_retry(FailureCategory.TIMEOUT, 1, exc)


class TooLong(Collector):
    name = "too_long"

    def collect(self):
        raise SoftTimeLimitExceeded()


class TooLongRetried(TooLong):
    name = "too_long_retried"
    retry_time_limit = True


class SlowServer(Collector):
    name = "slow_server"

    def collect(self):
        raise httpx.ReadTimeout("read timed out")


@pytest.mark.parametrize(
    ("collector", "status", "attempts"),
    [(TooLong, "failed", 1), (TooLongRetried, "failed", 4), (SlowServer, "failed", 4)],
    ids=["own limit: once", "own limit, opted in: 1 + 3 retries", "call timeout: 1 + 3 retries"],
)
def test_runs(collector, status, attempts):
    with CollectorHarness(collector, retries=3) as harness:
        run = harness.run(collector)
    assert (run.status, run.category, len(run.attempts)) == (status, "timeout", attempts)
