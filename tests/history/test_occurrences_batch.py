"""All the occurrences due at one tick: claimed with their runs in one transaction, once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import DBAPIError

from harvester.history import occurrence
from harvester.history.lifecycle import NewRun
from harvester.history.occurrence import DueOccurrence

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _due(n: int, built: list[str], fail: set[int] = frozenset()) -> list[DueOccurrence]:
    def build(i: int):
        def make():
            built.append(f"e{i}")
            if i in fail:
                raise RuntimeError(f"targets() of e{i} failed")
            return [NewRun(str(uuid.uuid4()), "c", {"i": i}, f"k{i}", "schedule", entry_key=f"e{i}")], None

        return make

    return [DueOccurrence(f"e{i}", AT, build(i)) for i in range(n)]


def test_a_tick_claims_every_occurrence_once_and_records_their_runs(store, monkeypatch):
    monkeypatch.setattr(occurrence, "CLAIM_CHUNK", 7)
    built: list[str] = []
    made = store.dispatch_occurrences(_due(20, built, fail={3}))
    assert [len(runs) for runs in made] == [0 if i == 3 else 1 for i in range(20)]
    assert len(store.list_runs(limit=100)) == 19
    notes = {o["entry_key"]: o["note"] for o in store.occurrences()}
    assert notes["e3"] == "not dispatched: RuntimeError: targets() of e3 failed"
    assert {o["run_id"] is None for k, o in ((o["entry_key"], o) for o in store.occurrences()) if k != "e3"} == {False}
    again: list[str] = []
    assert store.dispatch_occurrences(_due(20, again)) == [None] * 20  # another scheduler: nothing built
    assert again == []


def test_a_database_error_records_none_of_the_tick(store):
    built: list[str] = []
    due = _due(5, built)
    due.append(DueOccurrence("x" * 300, AT, lambda: ([], None)))  # longer than the key column on PostgreSQL
    if store.engine.dialect.name != "postgresql":
        bad = NewRun("dup", "c", {}, "k", "schedule")
        due.append(DueOccurrence("dups", AT, lambda: ([bad, bad], None)))  # one run id twice
    with pytest.raises(DBAPIError):
        store.dispatch_occurrences(due)
    assert store.occurrences() == []
    assert store.list_runs() == []
