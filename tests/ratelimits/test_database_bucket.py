"""The database bucket (SQLite and PostgreSQL): one locked row per limit, and a run's ``waiting_for``."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from stores import fresh_store

from harvester.errors import FailureCategory, classify_failure
from harvester.history.engine import utcnow
from harvester.history.rate_limits import DatabaseBucket, set_waiting_for
from harvester.history.store import NewRun, Store
from harvester.ratelimit.bucket import Rate
from harvester.ratelimit.limiter import LimitStats

#: A rate whose second token is a day away: a test never sees it refill.
DAILY = Rate(1, 86400.0)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from fresh_store(request, tmp_path, "runs, rate_limits CASCADE")


def test_a_new_limit_is_full_then_waits_for_its_next_token(store):
    bucket = DatabaseBucket(store)
    assert bucket.take("github", DAILY, 1) == 0
    assert 86000 < bucket.take("github", DAILY, 1) <= 86400


def test_concurrent_takes_never_grant_more_than_the_bucket_holds(store):
    """A day's rate with a burst of 5: however many threads take at once, exactly 5 are granted."""
    bucket, granted, lock = DatabaseBucket(store), [], threading.Lock()
    rate = Rate(1, 86400.0, burst=5)

    def taker():
        for _ in range(4):
            if bucket.take("daily", rate, 1) == 0:
                with lock:
                    granted.append(1)

    threads = [threading.Thread(target=taker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 5


def test_stats_count_granted_tokens_and_waits(store):
    bucket = DatabaseBucket(store)
    bucket.take("github", DAILY, 1)
    bucket.take("github", DAILY, 1)  # refused: not counted
    bucket.record_wait("github", 0.25)
    assert bucket.stats() == [LimitStats("github", "1/d", 1, 1, 0.25)]


def test_a_database_without_the_table_fails_the_take_as_database(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated
    with pytest.raises(Exception) as caught:
        DatabaseBucket(store).take("github", DAILY, 1)
    store.close()
    assert classify_failure(caught.value) is FailureCategory.DATABASE


def _running_run(store: Store) -> str:
    run_id = str(uuid.uuid4())
    store.create_runs([NewRun(run_id=run_id, collector="c", params={}, params_key="k", trigger="cli")])
    store.claim(run_id, stale_before=utcnow())
    return run_id


def test_waiting_for_is_set_on_a_running_run_and_cleared(store):
    run_id = _running_run(store)
    set_waiting_for(store, run_id, "rate limit github")
    assert store.get_run(run_id)["waiting_for"] == "rate limit github"
    set_waiting_for(store, run_id, None)
    assert store.get_run(run_id)["waiting_for"] is None


def test_a_run_that_ended_meanwhile_is_not_marked_waiting_but_is_cleared(store):
    run_id = _running_run(store)
    set_waiting_for(store, run_id, "rate limit github")
    store.cancel(run_id)
    set_waiting_for(store, run_id, "rate limit github")  # a late start of a wait: not on a cancelled run
    assert store.get_run(run_id)["waiting_for"] == "rate limit github"  # from before: cleared below
    set_waiting_for(store, run_id, None)
    assert store.get_run(run_id)["waiting_for"] is None


def test_the_next_claim_clears_what_a_killed_attempt_waited_for(store):
    run_id = _running_run(store)
    set_waiting_for(store, run_id, "rate limit github")
    store.mark_lost(run_id, 1, requeue=True, message="worker lost", heartbeat_seen=None)
    store.claim(run_id, stale_before=utcnow())
    assert store.get_run(run_id)["waiting_for"] is None
