"""Cancel: a due run never starts, a running one can no longer finish and frees its lock, a fan-out
parent takes its unfinished members with it, and an ended run stays as it was."""

from __future__ import annotations

import uuid
from datetime import timedelta

from harvester.history.engine import utcnow
from harvester.history.store import Claim, NewRun, Outcome


def record(store, parent: str | None = None, index: int | None = None) -> str:
    run_id = str(uuid.uuid4())
    store.create_runs([NewRun(run_id, "c", {}, "key", "cli", parent_run_id=parent, member_index=index)])
    return run_id


def claim(store, run_id: str, lock: str | None = None):
    return store.claim(
        run_id,
        stale_before=utcnow() - timedelta(seconds=60),
        lock_key=lock,
        lock_stale_before=utcnow() - timedelta(seconds=60),
    )


def test_a_queued_run_is_cancelled_and_never_starts(store):
    run_id = record(store)
    cancelled = store.cancel(run_id)
    assert (cancelled.recorded, cancelled.was, cancelled.stop) == (True, "queued", (run_id,))
    row = store.get_run(run_id)
    assert (row["status"], row["error_message"], row["next_attempt_at"]) == ("cancelled", "cancelled by a user", None)
    assert row["finished_at"] is not None
    assert claim(store, run_id)[0] is Claim.FINISHED  # its message, delivered late, is dropped


def test_a_running_run_frees_its_lock_and_its_attempt_cannot_finish(store):
    run_id = record(store)
    assert claim(store, run_id, lock="c:key") == (Claim.CLAIMED, 1)
    assert store.cancel(run_id).was == "running"
    assert not store.finish(run_id, 1, Outcome("succeeded", duration=1.0)).recorded
    assert store.get_run(run_id)["status"] == "cancelled"
    assert store.get_run(run_id)["duration"] is not None  # from its start to the cancel
    again = record(store)
    assert claim(store, again, lock="c:key") == (Claim.CLAIMED, 1)  # the lock went with the status


def test_an_ended_or_unknown_run_is_not_cancelled(store):
    run_id = record(store)
    claim(store, run_id)
    store.finish(run_id, 1, Outcome("succeeded", duration=0.1))
    assert (store.cancel(run_id).recorded, store.cancel(run_id).was) == (False, "succeeded")
    assert store.get_run(run_id)["status"] == "succeeded"
    assert (store.cancel("nope").recorded, store.cancel("nope").was) == (False, None)
    assert store.cancel("x" * 40).was is None
    assert store.cancel("a\x00b").was is None


def test_a_waiting_parent_takes_its_unfinished_members_with_it(store):
    parent = record(store)
    claim(store, parent)
    members = [
        NewRun(str(uuid.uuid4()), "m", {}, f"k{i}", "parent", parent_run_id=parent, member_index=i) for i in range(3)
    ]
    assert store.fan_out(parent, 1, members)
    done, running, queued = (m.run_id for m in members)
    claim(store, done)
    store.finish(done, 1, Outcome("succeeded", duration=0.1), parent_run_id=parent)
    claim(store, running)
    cancelled = store.cancel(parent)
    assert cancelled.was == "waiting"
    assert set(cancelled.stop) == {parent, running, queued}
    statuses = {m["id"]: m["status"] for m in store.members(parent)}
    assert statuses == {done: "succeeded", running: "cancelled", queued: "cancelled"}


def test_a_cancelled_member_counts_into_its_parent(store):
    parent = record(store)
    claim(store, parent)
    members = [
        NewRun(str(uuid.uuid4()), "m", {}, f"k{i}", "parent", parent_run_id=parent, member_index=i) for i in range(2)
    ]
    store.fan_out(parent, 1, members)
    first, second = (m.run_id for m in members)
    claim(store, first)
    store.finish(first, 1, Outcome("succeeded", duration=0.1), parent_run_id=parent)
    cancelled = store.cancel(second)
    assert (cancelled.recorded, cancelled.parent_done, cancelled.stop) == (True, True, (second,))
    assert store.get_run(parent)["progress_done"] == 2
