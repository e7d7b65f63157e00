"""The history store on SQLite and PostgreSQL: claims, outcomes, lost runs, state, records, pruning."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from harvester.history.data import StateConflict, StateWrite
from harvester.history.engine import utcnow
from harvester.history.stats import count_runs
from harvester.history.store import (
    MAX_LOST_ATTEMPTS,
    Claim,
    NewRun,
    Outcome,
    Store,
)


def new_run(store: Store, collector: str = "c") -> str:
    run_id = str(uuid.uuid4())
    store.create_runs([NewRun(run_id, collector, {"a": 1}, "key", "cli")])
    return run_id


def stale_before():
    return utcnow() - timedelta(seconds=60)


def test_claim_outcomes(store):
    assert store.claim("nope", stale_before=stale_before()) == (Claim.MISSING, 0)
    run_id = new_run(store)
    assert store.claim(run_id, stale_before=stale_before(), worker="otherhost:1") == (Claim.CLAIMED, 1)
    # live attempt elsewhere (fresh heartbeat, another host): a second delivery must wait
    assert store.claim(run_id, stale_before=stale_before(), worker="h:2") == (Claim.BUSY, 1)
    store.finish(run_id, 1, Outcome("succeeded", result={"n": 1}, duration=0.1))
    assert store.claim(run_id, stale_before=stale_before()) == (Claim.FINISHED, 1)
    row = store.get_run(run_id)
    assert (row["status"], row["result"], row["attempt"]) == ("succeeded", {"n": 1}, 1)


def test_claim_takes_over_from_a_dead_process_on_this_host(store):
    run_id = new_run(store)
    store.claim(run_id, stale_before=stale_before(), worker=f"{__import__('socket').gethostname()}:999999")
    claim, attempt = store.claim(run_id, stale_before=stale_before())
    assert (claim, attempt) == (Claim.CLAIMED, 2)
    assert [a["status"] for a in store.attempts(run_id)] == ["lost", "running"]


def test_claim_takes_over_after_heartbeat_went_stale(store):
    run_id = new_run(store)
    store.claim(run_id, stale_before=stale_before(), worker="elsewhere:1")
    assert store.claim(run_id, stale_before=utcnow() + timedelta(seconds=1))[0] is Claim.CLAIMED


def test_run_whose_worker_keeps_dying_fails_after_the_limit(store):
    run_id = new_run(store)
    future = utcnow() + timedelta(seconds=1)
    for _ in range(MAX_LOST_ATTEMPTS):
        assert store.claim(run_id, stale_before=future)[0] is Claim.CLAIMED
    assert store.claim(run_id, stale_before=future)[0] is Claim.FINISHED
    row = store.get_run(run_id)
    assert row["status"] == "failed"
    assert f"worker lost {MAX_LOST_ATTEMPTS} times" in row["error_message"]
    assert [a["status"] for a in store.attempts(run_id)] == ["lost"] * MAX_LOST_ATTEMPTS


def test_lost_runs_and_mark_lost(store):
    run_id = new_run(store)
    store.claim(run_id, stale_before=stale_before(), worker="elsewhere:1")
    assert store.lost_runs(utcnow() - timedelta(seconds=30)) == []
    lost = store.lost_runs(utcnow() + timedelta(seconds=1))
    assert [r["id"] for r in lost] == [run_id]
    assert store.mark_lost(run_id, 1, requeue=True, message="worker lost; re-enqueued")
    assert store.get_run(run_id)["status"] == "queued"
    assert not store.mark_lost(run_id, 1, requeue=True, message="twice")  # moved on: no double requeue


def test_state_commits_with_success_and_detects_conflicts(store):
    assert store.load_state("c", "k") == ({}, None)
    run_id = new_run(store)
    store.claim(run_id, stale_before=stale_before())
    store.finish(run_id, 1, Outcome("succeeded"), state=StateWrite("c", "k", {"cursor": 5}, None))
    assert store.load_state("c", "k") == ({"cursor": 5}, 1)
    other = new_run(store)
    store.claim(other, stale_before=stale_before())
    with pytest.raises(StateConflict):
        store.finish(other, 1, Outcome("succeeded"), state=StateWrite("c", "k", {"cursor": 6}, None))
    assert store.get_run(other)["status"] == "running"  # the whole finish rolled back
    store.finish(other, 1, Outcome("succeeded"), state=StateWrite("c", "k", {"cursor": 6}, 1))
    assert store.load_state("c", "k") == ({"cursor": 6}, 2)


def test_records_upsert_inserts_updates_and_ignores_unchanged(store):
    store.upsert_records("c", "r1", [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], "id")
    first = {r["key"]: r for r in store.get_records("c")}
    store.upsert_records("c", "r2", [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}], "id")
    second = {r["key"]: r for r in store.get_records("c")}
    assert store.count_records("c") == 2
    assert second["1"] == first["1"]
    assert second["2"]["payload"] == {"id": 2, "v": "B"}
    assert second["2"]["run_id"] == "r2"
    assert second["2"]["first_seen"] == first["2"]["first_seen"]


def test_list_filters_and_prune(store):
    ids = [new_run(store, collector) for collector in ("a", "b", "a")]
    store.claim(ids[0], stale_before=stale_before())
    store.finish(ids[0], 1, Outcome("failed", error_category="network"))
    assert [r["id"] for r in store.list_runs()] == ids[::-1]
    assert [r["id"] for r in store.list_runs(collector="a")] == [ids[2], ids[0]]
    assert [r["id"] for r in store.list_runs(status="failed")] == [ids[0]]
    assert store.list_runs(limit=1)[0]["id"] == ids[2]
    assert set(store.last_runs()) == {"a", "b"}
    assert store.prune(utcnow() + timedelta(seconds=1)) == 1  # only the finished one
    assert store.get_run(ids[0]) is None
    assert store.attempts(ids[0]) == []


def test_error_text_with_nul_is_recorded_not_refused(store):
    """PostgreSQL's text refuses NUL: a failure quoting one must still end its run (once)."""
    run_id = new_run(store)
    store.claim(run_id, stale_before=stale_before())
    failed = Outcome("failed", error_category="unknown", error_message="bad\x00byte", error_traceback="tb\x00")
    assert store.finish(run_id, 1, failed).recorded
    row = store.get_run(run_id)
    assert (row["status"], row["error_message"], row["error_traceback"]) == ("failed", "bad\\x00byte", "tb\\x00")


def test_a_filter_holding_nul_matches_nothing(store):
    new_run(store, collector="c")
    assert store.list_runs(collector="c\x00") == []
    assert store.list_runs(parent_run_id="p\x00") == []
    assert len(store.list_runs(collector="c")) == 1
    assert count_runs(store, collector="c\x00") == 0  # the dashboard's count
