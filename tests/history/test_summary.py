"""collector_summary agrees with the runs it summarises, whatever path ended them (SQLite and PostgreSQL)."""

from __future__ import annotations

import importlib.util
import uuid
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from harvester.history.engine import aware, utcnow
from harvester.history.lifecycle import NewRun, Outcome
from harvester.history.migrate import MIGRATIONS, upgrade
from harvester.history.models import DURATION_BUCKETS, run_attempts, runs
from harvester.history.queries import metrics_snapshot
from harvester.history.states import FINISHED
from harvester.history.store import Store


def _migration_0013() -> Any:
    path = next((Path(MIGRATIONS) / "versions").glob("0013_*.py"))
    spec = importlib.util.spec_from_file_location("m0013", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_triggers_count_every_final_status_and_the_metrics_buckets():
    """A new final status or bucket bound needs a migration that replaces the triggers."""
    migration = _migration_0013()
    assert {s.value for s in FINISHED} <= set(migration.FINAL)
    assert migration.BOUNDS == DURATION_BUCKETS


def recomputed(store: Store) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """What the summary must say, computed from runs and run_attempts (its newest run by its end)."""
    found: dict[tuple[str, str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"runs": 0, "timed": 0, "records": 0, "buckets": [0] * len(DURATION_BUCKETS), "last": None}
    )
    with store.engine.connect() as conn:
        for run in conn.execute(select(runs).where(runs.c.status.in_([s.value for s in FINISHED]))).mappings():
            key = (run["collector"], run["entry_key"] or "", run["status"], run["error_category"] or "")
            into = found[key]
            into["runs"] += 1
            into["records"] += run["records"]
            if run["duration"] is not None:
                into["timed"] += 1
                into["buckets"] = [
                    n + (run["duration"] <= b) for n, b in zip(into["buckets"], DURATION_BUCKETS, strict=True)
                ]
            if run["finished_at"] is not None and (into["last"] is None or aware(run["finished_at"]) > into["last"]):
                into["last"] = aware(run["finished_at"])
        retried = select(runs.c.collector, runs.c.entry_key, run_attempts.c.error_category).join(
            runs, runs.c.id == run_attempts.c.run_id
        )
        for collector, entry, category in conn.execute(retried.where(run_attempts.c.status == "retrying")):
            found[collector, entry or "", "retrying", category or ""]["runs"] += 1
    return dict(found)


def summarised(store: Store) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    return {
        key: {
            "runs": t.runs,
            "timed": t.timed,
            "records": t.records,
            "buckets": t.buckets,
            "last": t.last_finished_at,  # (runs that ended at the same moment: either is the newest)
        }
        for key, t in store.summary().items()
    }


def _run(store: Store, collector: str = "c", entry: str | None = None, **extra: Any) -> str:
    run_id = str(uuid.uuid4())
    store.create_runs([NewRun(run_id, collector, {}, "k", "schedule" if entry else "cli", entry_key=entry, **extra)])
    return run_id


def _claimed(store: Store, collector: str = "c", entry: str | None = None) -> str:
    run_id = _run(store, collector, entry)
    store.claim(run_id, stale_before=utcnow() - timedelta(minutes=1))
    return run_id


def _a_mix_of_runs(store: Store) -> None:
    stale = utcnow() - timedelta(minutes=1)
    store.finish(_claimed(store, "a", "a@daily"), 1, Outcome("succeeded", records=3))
    store.finish(_claimed(store, "a", "a@daily"), 1, Outcome("failed", error_category="network"))
    store.finish(_claimed(store, "b"), 1, Outcome("succeeded", records=1))
    retried = _claimed(store, "b")  # retried twice, then succeeds
    for attempt in (1, 2):
        store.finish(retried, attempt, Outcome("retrying", error_category="rate_limit", retry_in=0))
        store.claim(retried, stale_before=stale)
    store.finish(retried, 3, Outcome("succeeded", records=2))
    store.cancel(_run(store, "a"))  # never started
    store.cancel(_claimed(store, "a"))  # running
    store.skip(_run(store, "b"), "overlap")
    store.abandon(_run(store, "b"), Outcome("failed", error_category="config", error_message="unknown collector"))
    lost = _claimed(store, "c")
    store.mark_lost(lost, 1, requeue=False, message="worker lost")
    requeued = _claimed(store, "c")  # lost once, then succeeds
    store.mark_lost(requeued, 1, requeue=True, message="worker lost")
    store.claim(requeued, stale_before=stale)
    store.finish(requeued, 2, Outcome("succeeded"))
    # a fan-out: two members end, the parent is cancelled with the third
    parent = _claimed(store, "fan")
    members = [NewRun(str(uuid.uuid4()), "fan", {"i": i}, f"m{i}", "fanout", parent, member_index=i) for i in range(3)]
    store.fan_out(parent, 1, members)
    for member in members[:2]:
        store.claim(member.run_id, stale_before=stale)
        store.finish(member.run_id, 1, Outcome("succeeded"), parent_run_id=parent)
    store.cancel(parent)
    _claimed(store, "a")  # still running: not in the summary


def test_the_summary_agrees_with_the_runs_after_every_kind_of_end(store):
    _a_mix_of_runs(store)
    expected = recomputed(store)
    assert summarised(store) == expected
    assert expected["b", "", "retrying", "rate_limit"]["runs"] == 2
    assert expected["fan", "", "cancelled", ""]["runs"] == 2  # the parent and its member that had not ended


def test_a_run_recorded_already_ended_is_counted(store):
    run_id = str(uuid.uuid4())
    now = utcnow()
    with store.engine.begin() as conn:
        conn.execute(
            runs.insert().values(
                id=run_id, collector="c", params={}, params_key="k", trigger="cli", status="failed",
                attempt=0, queued_at=now, finished_at=now, records=0, error_category="config",
            )
        )  # fmt: skip
    assert summarised(store) == recomputed(store)
    assert store.summary()["c", "", "failed", "config"].last_run_id == run_id


def test_pruning_leaves_the_lifetime_counts(store):
    for _ in range(7):
        store.finish(_claimed(store, "a"), 1, Outcome("succeeded", records=1))
    before = summarised(store)
    assert store.prune(utcnow() + timedelta(seconds=1), batch=3) == 7  # three transactions, and one that finds none
    assert store.list_runs() == []
    assert summarised(store) == before
    assert before["a", "", "succeeded", ""]["runs"] == 7


def test_metrics_and_last_success_come_from_the_summary(store):
    _a_mix_of_runs(store)
    snap = metrics_snapshot(store)
    ended = {(c, s, cat): n for c, s, cat, n in snap.runs if s in {f.value for f in FINISHED}}
    assert ended[("b", "succeeded", "")] == 2
    assert ended[("a", "cancelled", "")] == 2
    assert ("a", "running", "", 1) in snap.runs
    assert snap.retries == {"b": 2}
    assert snap.records["a"] == 3
    assert set(snap.last_success) == {"a", "b", "c", "fan"}
    assert store.collector_successes() == snap.last_success
    durations = {d.collector: d for d in snap.durations}
    assert durations["a"].count == 2  # a success and a failure: cancelled runs are not timed
    assert durations["a"].buckets[-1][1] == 2
    with pytest.raises(ValueError, match="buckets"):
        metrics_snapshot(store, buckets=(1.0,))


def test_last_runs_are_the_newest_queued_of_each_collector(store):
    _a_mix_of_runs(store)
    newest = _run(store, "b")
    last = store.last_runs()
    assert set(last) == {"a", "b", "c", "fan"}
    assert last["b"]["id"] == newest
    assert set(store.last_runs(["b", "nobody"])) == {"b"}


def test_the_migration_fills_the_summary_from_the_runs_before_it(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    store.upgrade()
    _a_mix_of_runs(store)
    expected = recomputed(store)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM collector_summary")
        conn.exec_driver_sql("DELETE FROM alembic_version")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('0012')")
        conn.exec_driver_sql("DROP TRIGGER collector_summary_on_update")
        conn.exec_driver_sql("DROP TRIGGER collector_summary_on_insert")
        conn.exec_driver_sql("DROP TABLE collector_summary")
    upgrade(store.engine, "0013")
    try:
        assert summarised(store) == expected
    finally:
        store.close()


class RandomMoves:
    """Random runs moved by random transitions (some of them refused by their guards)."""

    def __init__(self, store: Store, seed: int) -> None:
        import random

        self.store, self.rng = store, random.Random(seed)
        self.stale = utcnow() - timedelta(minutes=1)
        self.queued: list[str] = []
        self.live: list[tuple[str, int]] = []  # (run id, its live attempt)

    def new(self) -> None:
        self.queued.append(_run(self.store, self.rng.choice("ab"), self.rng.choice([None, "a@1", "b@2"])))

    def claim(self) -> None:
        if self.queued:
            run_id = self.queued.pop(self.rng.randrange(len(self.queued)))
            attempt = self.store.claim(run_id, stale_before=self.stale)[1]
            if attempt:
                self.live.append((run_id, attempt))

    def end(self) -> None:
        if not self.live:
            return
        run_id, attempt = self.live.pop(self.rng.randrange(len(self.live)))
        status = self.rng.choice(["succeeded", "failed", "retrying", "lost"])
        if status == "lost":
            self.store.mark_lost(run_id, attempt, requeue=self.rng.random() < 0.5, message="lost")
        else:
            category = self.rng.choice([None, "network"])
            self.store.finish(run_id, attempt, Outcome(status, error_category=category, retry_in=0))
        if status in ("retrying", "lost"):
            self.queued.append(run_id)  # a claim of one that failed for good is refused: harmless

    def from_outside(self) -> None:
        pending = self.queued + [run_id for run_id, _ in self.live]
        if not pending:
            return
        run_id = self.rng.choice(pending)
        move = self.rng.choice(["cancel", "skip", "abandon"])
        if move == "cancel":
            self.store.cancel(run_id)
        elif move == "skip":
            self.store.skip(run_id, "overlap")
        else:
            self.store.abandon(run_id, Outcome("failed", error_category="config"))

    def play(self, moves: int) -> None:
        for _ in range(moves):
            self.rng.choice([self.new, self.new, self.claim, self.end, self.from_outside])()


@pytest.mark.parametrize("seed", [1, 2])
def test_the_summary_agrees_after_a_random_mix_of_moves(store, seed):
    """Property-style: whatever the order of moves, the summary is what the runs say."""
    RandomMoves(store, seed).play(80)
    assert summarised(store) == recomputed(store)
