"""What history says about the schedule, on SQLite and PostgreSQL: each entry's last success (its own
runs only) and each group's last batch, in reads bounded by an index."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update

from harvester.history.models import runs
from harvester.history.store import NewRun, Store
from harvester.request import new_batch_id

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def record(
    store: Store,
    status: str,
    *,
    finished: datetime | None = None,
    queued: datetime = T0,
    collector: str = "c",
    params_key: str = "k",
    group: str | None = None,
    key: str | None = None,
    batch: str | None = None,
    trigger: str = "schedule",
) -> str:
    run_id = str(uuid.uuid4())
    store.create_runs(
        [NewRun(run_id, collector, {}, params_key, trigger, schedule_group=group, entry_key=key, batch_id=batch)]
    )
    with store.engine.begin() as conn:
        conn.execute(
            update(runs).where(runs.c.id == run_id).values(status=status, finished_at=finished, queued_at=queued)
        )
    return run_id


def test_an_entry_last_succeeded_when_its_own_newest_success_ended(store):
    a, b = "a:c:k:111111111111", "b:c:k:111111111111"
    record(store, "succeeded", finished=T0, group="a", key=a)
    record(store, "succeeded", finished=T0 + timedelta(hours=2), group="a", key=a)
    record(store, "failed", finished=T0 + timedelta(hours=3), group="a", key=a)  # a failure is no success
    record(store, "succeeded", finished=T0 + timedelta(hours=5), trigger="cli")  # by hand: no entry
    found = store.entry_successes({a: ("c", "k"), b: ("c", "k")})
    assert found == {a: T0 + timedelta(hours=2)}  # group b never ran: nothing, not a's runs


def test_successes_from_before_entries_were_recorded_count_until_the_entry_has_its_own(store):
    a, b = "a:c:k:111111111111", "b:c:k:111111111111"
    record(store, "succeeded", finished=T0, key="before-0008:c:k")  # as migration 0008 marks them
    record(store, "succeeded", finished=T0 + timedelta(hours=1), group="a", key=a)
    found = store.entry_successes({a: ("c", "k"), b: ("c", "k"), "x:c:other:1": ("c", "other")})
    assert found == {a: T0 + timedelta(hours=1), b: T0}


def test_many_entries_are_read_in_chunks(store):
    keys = {f"g:c:k{i}:111111111111": ("c", f"k{i}") for i in range(230)}
    record(store, "succeeded", finished=T0, group="g", key="g:c:k229:111111111111")
    assert store.entry_successes(keys) == {"g:c:k229:111111111111": T0}


def test_each_group_shows_its_newest_batch_with_its_runs_by_status(store):
    old, new = new_batch_id(T0), new_batch_id(T0 + timedelta(days=1))
    record(store, "failed", finished=T0, group="g", batch=old)
    later = T0 + timedelta(days=1)
    record(store, "succeeded", finished=later + timedelta(minutes=3), queued=later, group="g", batch=new)
    record(store, "succeeded", finished=later + timedelta(minutes=9), queued=later, group="g", batch=new)
    record(store, "failed", finished=later + timedelta(minutes=5), queued=later, group="g", batch=new)
    record(store, "succeeded", finished=later, queued=later, group="other", batch=new_batch_id(later))
    batches = store.last_batches(["g", "never"])
    assert list(batches) == ["g"]
    batch = batches["g"]
    assert (batch.batch_id, batch.started_at, batch.ended_at) == (new, later, later + timedelta(minutes=9))
    assert (batch.runs, batch.succeeded, batch.failed, batch.unfinished, batch.outcome) == (3, 2, 1, 0, "failed")


def test_a_batch_with_a_run_still_going_has_not_ended(store):
    batch_id = new_batch_id(T0)
    record(store, "succeeded", finished=T0 + timedelta(minutes=1), group="g", batch=batch_id)
    record(store, "running", group="g", batch=batch_id)
    batch = store.last_batches(["g"])["g"]
    assert (batch.ended_at, batch.outcome, batch.unfinished, batch.succeeded) == (None, "running", 1, 1)


def test_batch_ids_sort_by_the_moment_they_were_made():
    moments = [T0, T0 + timedelta(microseconds=1), T0 + timedelta(seconds=1), T0 + timedelta(days=40)]
    ids = [new_batch_id(m) for m in moments]
    assert sorted(ids) == ids
    assert ids[0].startswith("20260302T020000.000000Z-")


def test_the_reads_are_index_seeks(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    store.upgrade()
    plans = []
    with store.engine.connect() as conn:
        for query in (
            "SELECT finished_at FROM runs WHERE entry_key = 'e' AND status = 'succeeded' "
            "AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
            "SELECT max(batch_id) FROM runs WHERE schedule_group = 'g'",
            "SELECT status, count(*) FROM runs WHERE schedule_group = 'g' AND batch_id = 'b' GROUP BY status",
        ):
            plans.append(" ".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {query}"))))
    store.close()
    assert "ix_runs_entry_key_status_finished_at" in plans[0]
    assert all("ix_runs_schedule_group_batch_id" in plan for plan in plans[1:])
    assert not any("SCAN runs" in plan for plan in plans), plans


def test_an_entry_keeps_its_last_success_after_retention_deleted_the_run(store):
    """The newest success comes from collector_summary, which counts for the lifetime: pruning old
    runs does not make a schedule entry look as if it never ran (the overview, /health, alerts)."""
    a = "a:c:k:111111111111"
    record(store, "succeeded", finished=T0, group="a", key=a)
    assert store.prune(T0 + timedelta(days=1)) == 1
    assert store.entry_successes({a: ("c", "k")}) == {a: T0}
