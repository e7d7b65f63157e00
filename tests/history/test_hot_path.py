"""The per-run write path: one held connection per process, statements run straight on the driver.

What SQLAlchemy's own execution path would give must still hold: values converted by the column
types, errors raised as SQLAlchemy's, a lost connection replaced, threads and forks kept apart.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from harvester.history.engine import DriverStatement, utcnow
from harvester.history.models import runs
from harvester.history.store import Claim, NewRun, Outcome, Store


def new_run(store: Store) -> str:
    run_id = str(uuid.uuid4())
    store.create_runs([NewRun(run_id, "c", {"a": 1}, "key", "cli")])
    return run_id


def stale_before():
    return utcnow() - timedelta(seconds=60)


def test_claim_and_finish_convert_values_like_the_column_types(store):
    run_id = new_run(store)
    before = utcnow()
    assert store.claim(run_id, stale_before=stale_before(), lock_key="c:key") == (Claim.CLAIMED, 1)
    store.finish(run_id, 1, Outcome("succeeded", result={"rows": [1, 2], "ok": True}, records=2, duration=0.25))
    row = store.get_run(run_id)
    assert row["result"] == {"rows": [1, 2], "ok": True}  # JSON column
    assert row["finished_at"].tzinfo is not None
    assert row["finished_at"] >= before
    assert (row["status"], row["records"], row["lock_key"]) == ("succeeded", 2, "c:key")
    # the run's whole life, from its first start to its finish (not the attempt's 0.25 s)
    assert 0 <= row["duration"] <= (row["finished_at"] - row["started_at"]).total_seconds() + 0.001


def test_a_result_of_none_is_stored_as_sqlalchemy_stores_it(store):
    """The driver path writes what SQLAlchemy's JSON type writes (JSON null), not something else."""
    ours, theirs = new_run(store), new_run(store)
    store.claim(ours, stale_before=stale_before())
    store.finish(ours, 1, Outcome("succeeded", result=None))
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == theirs).values(result=None))
        raw = dict(
            conn.execute(text("SELECT id, result FROM runs WHERE id IN (:a, :b)"), {"a": ours, "b": theirs}).all()
        )
    assert raw[ours] == raw[theirs]
    assert store.get_run(ours)["result"] is None


def test_driver_errors_are_raised_as_sqlalchemy_errors(store):
    first, second = new_run(store), new_run(store)
    store.claim(first, stale_before=stale_before(), lock_key="same")
    statement = DriverStatement(
        update(runs).where(runs.c.id == second).values(status="running", lock_key="same"), store.engine.dialect
    )
    with pytest.raises(IntegrityError), store.single() as conn:
        statement.execute(conn, {})
    # the failed statement rolled back, and the held connection still works
    assert store.claim(second, stale_before=stale_before(), lock_key="other") == (Claim.CLAIMED, 1)


def test_driver_statement_refuses_expanding_parameters(store):
    with pytest.raises(TypeError, match="expanding"):
        DriverStatement(select(runs.c.id).where(runs.c.id.in_(["a", "b"])), store.engine.dialect)


@pytest.fixture
def pg_store(postgres_url):
    made = Store(postgres_url)
    with made.engine.begin() as conn:
        conn.execute(text("TRUNCATE runs, run_attempts, run_logs, collector_state, records, occurrences"))
    yield made
    made.close()


def held_backend_pid(store: Store) -> int:
    with store.single() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def kill_backend(store: Store, pid: int) -> None:
    with store.engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def test_a_connection_the_server_dropped_is_replaced_without_failing_the_run(pg_store):
    run_id = new_run(pg_store)
    pid = held_backend_pid(pg_store)
    assert held_backend_pid(pg_store) == pid  # one connection, kept between statements
    kill_backend(pg_store, pid)
    assert pg_store.claim(run_id, stale_before=stale_before()) == (Claim.CLAIMED, 1)
    second = held_backend_pid(pg_store)
    assert second != pid
    kill_backend(pg_store, second)
    pg_store.finish(run_id, 1, Outcome("succeeded", result={"n": 1}))
    assert pg_store.get_run(run_id)["status"] == "succeeded"


def test_a_database_that_stays_away_fails_the_statement(pg_store, monkeypatch):
    run_id = new_run(pg_store)
    calls = []

    def always_lost(conn, params):
        calls.append(1)
        conn.invalidate()
        raise DBAPIError("UPDATE runs", params, Exception("server closed the connection"), connection_invalidated=True)

    monkeypatch.setattr(pg_store._claim_stmt, "execute", always_lost)
    with pytest.raises(DBAPIError) as caught:
        pg_store.claim(run_id, stale_before=stale_before())
    assert caught.value.connection_invalidated
    assert len(calls) == 2  # the first try and one more on a new connection, no more


def test_a_thread_finding_the_held_connection_busy_uses_the_pool(pg_store):
    held = held_backend_pid(pg_store)
    seen: list[int] = []
    with pg_store.single():  # this thread holds it
        worker = threading.Thread(target=lambda: seen.append(held_backend_pid(pg_store)))
        worker.start()
        worker.join(10)
    assert seen
    assert seen[0] != held
    assert held_backend_pid(pg_store) == held


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("told", [True, False], ids=["after_fork", "not-told"])
def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone(pg_store, told):
    parent = held_backend_pid(pg_store)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what a worker process does after the fork
        code = 1
        try:
            if told:
                pg_store.after_fork()
            os.write(write, str(held_backend_pid(pg_store)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    child = int(os.read(read, 64) or b"0")
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child not in (0, parent)
    assert held_backend_pid(pg_store) == parent  # the parent's connection survived the child's exit


def test_a_finishing_member_counts_into_its_parent_in_the_same_write(store):
    parent = new_run(store)
    store.claim(parent, stale_before=stale_before())
    members = [
        NewRun(str(uuid.uuid4()), "m", {"i": i}, f"k{i}", "parent", parent_run_id=parent, member_index=i)
        for i in range(3)
    ]
    assert store.fan_out(parent, 1, members)
    for member in members[:2]:
        store.claim(member.run_id, stale_before=stale_before())
    store.finish(members[0].run_id, 1, Outcome("succeeded", result=1), parent_run_id=parent)
    store.finish(
        members[1].run_id, 1, Outcome("failed", error_category="network", error_message="x"), parent_run_id=parent
    )
    row = store.get_run(parent)
    assert (row["progress_done"], row["progress_total"]) == (2, 3)
    assert [r["status"] for r in store.members(parent)] == ["succeeded", "failed", "queued"]
    assert store.get_run(members[0].run_id)["result"] == 1


@pytest.fixture
def sqlite_store(tmp_path):
    made = Store(f"sqlite:///{tmp_path / 'h.db'}")
    made.upgrade()
    yield made
    made.close()


def test_a_member_whose_count_fails_is_not_finished_either(sqlite_store, monkeypatch):
    """The finish and the count are one write: on SQLite one transaction (on PostgreSQL one statement)."""
    store = sqlite_store
    parent = new_run(store)
    store.claim(parent, stale_before=stale_before())
    member = NewRun(str(uuid.uuid4()), "m", {}, "k", "parent", parent_run_id=parent, member_index=0)
    store.fan_out(parent, 1, [member])
    store.claim(member.run_id, stale_before=stale_before())

    def broken(conn, params):
        raise DBAPIError("UPDATE runs", params, Exception("disk I/O error"))

    monkeypatch.setattr(store._count_stmt, "execute", broken)
    with pytest.raises(DBAPIError):
        store.finish(member.run_id, 1, Outcome("succeeded", result=1), parent_run_id=parent)
    assert store.get_run(parent)["progress_done"] == 0
    assert store.get_run(member.run_id)["status"] == "running"


def test_a_locked_sqlite_database_is_a_sqlalchemy_error_naming_the_lock(sqlite_store, tmp_path):
    run_id = new_run(sqlite_store)
    with sqlite_store.single() as conn:
        conn.exec_driver_sql("PRAGMA busy_timeout=50")  # the held connection's; 30 s otherwise
    other = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            sqlite_store.claim(run_id, stale_before=stale_before())
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert sqlite_store.claim(run_id, stale_before=stale_before()) == (Claim.CLAIMED, 1)
