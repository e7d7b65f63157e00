"""The overlap lock held by the running run's own row (``runs.lock_key``), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from harvester.history.engine import utcnow
from harvester.history.models import runs
from harvester.history.store import Claim, NewRun, Outcome, Store


def new_run(store: Store) -> str:
    run_id = str(uuid.uuid4())
    store.create_runs([NewRun(run_id, "c", {}, "key", "cli")])
    return run_id


def claim(store: Store, run_id: str, key: str | None = "c:key", lock_stale_before=None):
    old = utcnow() - timedelta(seconds=60)
    return store.claim(run_id, stale_before=old, lock_key=key, lock_stale_before=lock_stale_before or old)


def test_one_running_holder_per_key_until_it_ends(store):
    first, second, third = new_run(store), new_run(store), new_run(store)
    assert claim(store, first) == (Claim.CLAIMED, 1)
    assert claim(store, second) == (Claim.LOCKED, 0)
    assert store.lock_holder("c:key") == first
    assert store.get_run(second)["status"] == "queued"  # untouched: the refusal is the runner's to record
    assert claim(store, third, key="c:other") == (Claim.CLAIMED, 1)  # other params: no overlap
    store.finish(first, 1, Outcome("succeeded"))
    assert store.lock_holder("c:key") is None
    assert claim(store, second) == (Claim.CLAIMED, 1)


def test_retrying_run_releases_the_lock_during_its_backoff(store):
    first, second = new_run(store), new_run(store)
    claim(store, first)
    store.finish(first, 1, Outcome("retrying", error_category="network", retry_in=5))
    assert claim(store, second) == (Claim.CLAIMED, 1)
    assert claim(store, first) == (Claim.LOCKED, 0)


def test_forced_runs_take_no_lock(store):
    first, second = new_run(store), new_run(store)
    claim(store, first)
    assert claim(store, second, key=None) == (Claim.CLAIMED, 1)


def test_lock_of_a_holder_that_stopped_beating_is_taken_over(store):
    first, second = new_run(store), new_run(store)
    claim(store, first)
    with store.engine.begin() as conn:  # the holder's process died: no heartbeat since
        conn.execute(update(runs).where(runs.c.id == first).values(heartbeat_at=utcnow() - timedelta(seconds=30)))
    assert claim(store, second, lock_stale_before=utcnow() - timedelta(seconds=60)) == (Claim.LOCKED, 0)
    assert claim(store, second, lock_stale_before=utcnow() - timedelta(seconds=10)) == (Claim.CLAIMED, 1)
    assert store.lock_holder("c:key") == second
    assert store.get_run(first)["status"] == "running"  # still for the reaper to close


def test_waiting_fanout_parent_keeps_its_lock_without_a_heartbeat(store):
    parent, second = new_run(store), new_run(store)
    claim(store, parent)
    assert store.fan_out(parent, 1, [NewRun(str(uuid.uuid4()), "m", {}, "mk", "parent", member_index=0)])
    assert store.get_run(parent)["heartbeat_at"] is None
    assert claim(store, second, lock_stale_before=utcnow()) == (Claim.LOCKED, 0)


def test_skip_and_defer(store):
    run_id = new_run(store)
    due = utcnow() + timedelta(seconds=5)
    assert store.defer(run_id, "waiting: c is already running", due)
    row = store.get_run(run_id)
    assert (row["status"], row["attempt"], row["error_message"]) == ("queued", 0, "waiting: c is already running")
    assert row["next_attempt_at"] == due
    store.skip(run_id, "skipped: c is already running")
    row = store.get_run(run_id)
    assert (row["status"], row["attempt"]) == ("skipped", 1)
    assert row["finished_at"] is not None
