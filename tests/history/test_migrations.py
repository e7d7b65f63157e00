"""The migrations build exactly the tables the code declares (so a model change needs a migration)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from harvester.history.models import metadata
from harvester.history.store import Store


def test_migrated_schema_matches_the_models(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    store.upgrade()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    store.close()
    assert diff == []


def test_0004_makes_waiting_parents_say_so_and_gives_due_runs_a_due_time(tmp_path):
    from datetime import UTC, datetime

    from sqlalchemy import text

    from harvester.history.migrate import upgrade

    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    upgrade(store.engine, "0003")
    queued_at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    rows = [
        ("parent", "running", 3, None),  # a fan-out parent waiting for its members, as 0003 kept it
        ("gathering", "running", 3, queued_at),  # one whose gather runs: still running
        ("queued", "queued", None, None),
        ("retrying", "retrying", None, None),
    ]
    with store.engine.begin() as conn:
        for run_id, status, members, heartbeat in rows:
            conn.execute(
                text(
                    "INSERT INTO runs (id, collector, params, params_key, trigger, status, attempt, queued_at, "
                    "records, members, heartbeat_at) VALUES (:id, 'c', '{}', :id, 'cli', :status, 0, :q, 0, :m, :h)"
                ),
                {"id": run_id, "status": status, "q": "2026-11-30 12:00:00.000000", "m": members, "h": heartbeat},
            )
    before = datetime.now(UTC)
    store.upgrade()
    got = {r["id"]: r for r in (store.get_run(run_id) for run_id, *_ in rows)}
    store.close()
    assert got["parent"]["status"] == "waiting"
    assert got["gathering"]["status"] == "running"
    assert got["queued"]["next_attempt_at"] == queued_at
    assert got["retrying"]["next_attempt_at"] >= before  # its backoff is unknown: due from the upgrade
    assert got["parent"]["next_attempt_at"] is None


def test_0008_marks_scheduled_successes_from_before_it_for_every_entry_of_their_collector_and_params(tmp_path):
    from sqlalchemy import text

    from harvester.history.migrate import upgrade

    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    upgrade(store.engine, "0007")
    rows = [("scheduled", "schedule", "succeeded"), ("failed", "schedule", "failed"), ("by-hand", "cli", "succeeded")]
    with store.engine.begin() as conn:
        for run_id, trigger, status in rows:
            conn.execute(
                text(
                    "INSERT INTO runs (id, collector, params, params_key, trigger, status, attempt, queued_at, "
                    "records) VALUES (:id, 'c', '{}', 'k', :trigger, :status, 1, '2026-11-30 12:00:00.000000', 0)"
                ),
                {"id": run_id, "trigger": trigger, "status": status},
            )
    store.upgrade()
    got = {run_id: store.get_run(run_id) for run_id, *_ in rows}
    store.close()
    assert got["scheduled"]["entry_key"] == "before-0008:c:k"
    assert (got["failed"]["entry_key"], got["by-hand"]["entry_key"]) == (None, None)
    assert {r["batch_id"] for r in got.values()} == {None}
