"""Expiry: a due run that has not started by its expiry is recorded ``expired`` and never runs; a run
that started once (a retry, a redelivery after a lost worker) is not a late occurrence and runs."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from harvester.history.engine import utcnow
from harvester.history.models import runs
from harvester.history.store import Claim, NewRun, Outcome


def record(store, expires_in: float | None, parent: str | None = None, index: int | None = None) -> str:
    run_id = str(uuid.uuid4())
    store.create_runs(
        [NewRun(run_id, "c", {}, "key", "schedule", parent_run_id=parent, member_index=index, expires_in=expires_in)]
    )
    return run_id


def claim(store, run_id: str, lock: str | None = None):
    stale = utcnow() - timedelta(seconds=60)
    return store.claim(run_id, stale_before=stale, lock_key=lock, lock_stale_before=stale)


def test_a_run_is_recorded_with_its_expiry_counted_from_now(store):
    before = utcnow()
    run_id = record(store, 90)
    expires_at = store.get_run(run_id)["expires_at"]
    assert before + timedelta(seconds=90) <= expires_at <= utcnow() + timedelta(seconds=90)
    assert store.get_run(record(store, None))["expires_at"] is None


def test_a_run_claimed_after_its_expiry_is_recorded_expired_and_never_runs(store):
    run_id = record(store, 0)
    assert claim(store, run_id, lock="c:key") == (Claim.EXPIRED, 0)
    row = store.get_run(run_id)
    assert (row["status"], row["attempt"], row["started_at"], row["next_attempt_at"]) == ("expired", 0, None, None)
    assert row["finished_at"] is not None
    assert row["error_message"].startswith("expired: not started by its expiry")
    assert claim(store, run_id)[0] is Claim.FINISHED  # a second delivery is dropped
    assert store.lock_holder("c:key") is None  # an expired run takes no lock


def test_a_run_within_its_expiry_or_without_one_runs(store):
    for expires_in in (3600, None):
        run_id = record(store, expires_in)
        assert claim(store, run_id) == (Claim.CLAIMED, 1)


def test_a_run_that_started_once_is_not_expired_when_it_is_due_again(store):
    run_id = record(store, 3600)
    claim(store, run_id)
    assert store.finish(run_id, 1, Outcome("retrying", retry_in=0, error_message="boom")).recorded
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert store.expire_due(utcnow()) == []
    assert claim(store, run_id) == (Claim.CLAIMED, 2)


def test_the_sweep_expires_due_runs_past_their_expiry_and_does_not_send_them_again(store):
    late, fresh, forever = record(store, 10), record(store, 3600), record(store, None)
    later = utcnow() + timedelta(seconds=60)
    expired = store.expire_due(later)
    assert [r["id"] for r in expired] == [late]
    assert store.get_run(late)["status"] == "expired"
    assert {store.get_run(r)["status"] for r in (fresh, forever)} == {"queued"}
    assert store.expire_due(later) == []  # once
    overdue = store.claim_overdue(later, later)
    assert {r["id"] for r in overdue} == {fresh, forever}


def test_the_sweep_leaves_runs_whose_expiry_has_not_passed(store):
    run_id = record(store, 3600)
    assert store.expire_due(utcnow()) == []
    assert store.get_run(run_id)["status"] == "queued"


def test_an_expired_member_counts_into_its_parent(store):
    parent = record(store, None)
    claim(store, parent)
    members = [
        NewRun(str(uuid.uuid4()), "m", {}, f"k{i}", "parent", parent_run_id=parent, member_index=i, expires_in=0)
        for i in range(2)
    ]
    assert store.fan_out(parent, 1, members)
    first, second = (m.run_id for m in members)
    assert claim(store, first)[0] is Claim.EXPIRED
    rows = store.expire_due(utcnow() + timedelta(seconds=1))
    assert [(r["id"], r["parent_done"]) for r in rows] == [(second, True)]
    assert store.get_run(parent)["progress_done"] == 2


def test_expire_is_guarded_a_running_or_ended_run_stays_as_it_is(store):
    run_id = record(store, 3600)
    claim(store, run_id)
    assert not store.expire(run_id, utcnow() + timedelta(hours=2)).recorded
    assert store.get_run(run_id)["status"] == "running"
