"""CheckStore: the latest result per probe, since when it passes or fails, failures in a row."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from harvester.history.checks import CheckResult, CheckStore
from harvester.history.engine import DatabaseError
from harvester.history.store import Store

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def result(ok: bool, at: datetime, collector: str = "probe_ok", key: str = "k1") -> CheckResult:
    return CheckResult(
        collector, key, "defaults", {"token": "${T}"}, ok, None if ok else "auth", "fine" if ok else "401", at, 0.25
    )


def test_the_latest_result_replaces_the_previous_one_and_streaks_are_counted(store):
    checks = CheckStore(store)
    checks.record([result(True, T0)], "cli")
    checks.record([result(False, T0 + timedelta(minutes=1))], "schedule")
    checks.record([result(False, T0 + timedelta(minutes=2))], "schedule")
    row = checks.latest()[("probe_ok", "k1")]
    assert (row["ok"], row["category"], row["detail"], row["source"]) == (False, "auth", "401", "schedule")
    assert row["checked_at"] == T0 + timedelta(minutes=2)
    assert row["changed_at"] == T0 + timedelta(minutes=1)  # failing since the first failure
    assert row["failures"] == 2
    assert row["params"] == {"token": "${T}"}
    checks.record([result(True, T0 + timedelta(minutes=3))], "health")
    row = checks.latest()[("probe_ok", "k1")]
    assert (row["ok"], row["failures"], row["changed_at"]) == (True, 0, T0 + timedelta(minutes=3))


def test_several_results_in_one_call_and_a_filter_by_collector(store):
    checks = CheckStore(store)
    checks.record([result(True, T0, "b"), result(False, T0, "a"), result(True, T0, "a", "k2")], "cli")
    assert sorted(checks.latest()) == [("a", "k1"), ("a", "k2"), ("b", "k1")]
    assert sorted(checks.latest(["b"])) == [("b", "k1")]
    checks.record([], "cli")  # nothing to write is no statement


def test_a_long_label_is_cut_to_the_column(store):
    checks = CheckStore(store)
    checks.record([replace(result(True, T0), label="x" * 400)], "cli")
    assert len(checks.latest()[("probe_ok", "k1")]["label"]) == 255


def test_a_refused_write_raises_the_database_error(tmp_path):
    unmigrated = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(DatabaseError):
            CheckStore(unmigrated).record([result(False, T0)], "cli")
        with pytest.raises(DatabaseError):
            CheckStore(unmigrated).latest()
    finally:
        unmigrated.close()
