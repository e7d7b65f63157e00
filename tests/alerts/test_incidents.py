"""Which incidents open and resolve: one alert per incident, whatever happens in between (time passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harvester.alerts.events import CheckStatus, OpenIncident
from harvester.alerts.incidents import (
    FinishedRun,
    WorkerSeen,
    changes,
    check_conditions,
    run_conditions,
    stale_conditions,
    worker_conditions,
)
from harvester.schedule.entries import ScheduleEntry, ScheduleSpec
from harvester.schedule.freshness import Freshness

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def run(status: str, minute: int, collector: str = "stars", params_key: str = "p1") -> FinishedRun:
    return FinishedRun(f"r{minute}", collector, params_key, status, T0 + timedelta(minutes=minute), "upstream", "503")


def opened(key: str, kind: str = "run_failed") -> OpenIncident:
    return OpenIncident(1, key, kind, "stars", T0, ("ops",))  # type: ignore[arg-type]


def summary_of(found):
    return (sorted(c.key for c in found.opened), sorted(i.key for i, _ in found.resolved))


@pytest.mark.parametrize(
    ("runs", "open_keys", "expected"),
    [
        # first failure opens
        ([run("failed", 1)], [], (["run_failed:stars:p1"], [])),
        # a failure while one is open: nothing (one alert per incident, not per run)
        ([run("failed", 1), run("failed", 2)], ["run_failed:stars:p1"], ([], [])),
        # first success after failures resolves (recovered)
        ([run("failed", 1), run("succeeded", 2)], ["run_failed:stars:p1"], ([], ["run_failed:stars:p1"])),
        # a success with nothing open: nothing
        ([run("succeeded", 1)], [], ([], [])),
        # the latest outcome counts, in whatever order history gave them
        ([run("failed", 3), run("succeeded", 2)], [], (["run_failed:stars:p1"], [])),
        # each collector and params is an incident of its own
        (
            [run("failed", 1), run("failed", 1, params_key="p2")],
            [],
            (["run_failed:stars:p1", "run_failed:stars:p2"], []),
        ),
        # cancelled and skipped runs are neither failure nor recovery
        ([run("cancelled", 1)], ["run_failed:stars:p1"], ([], [])),
    ],
)
def test_run_outcomes(runs, open_keys, expected):
    found = changes(run_conditions(runs), {k: opened(k) for k in open_keys})
    assert summary_of(found) == expected


def test_a_failure_names_its_category_and_message():
    (condition,) = run_conditions([run("failed", 1)])
    assert condition.summary == "stars failed (upstream): 503"
    assert condition.detail["run_id"] == "r1"
    assert condition.at == T0 + timedelta(minutes=1)


def entry(freshness: timedelta = timedelta(hours=1)) -> ScheduleEntry:
    spec = ScheduleSpec(kind="hourly")
    return ScheduleEntry("g", 0, "stars", spec, None, True, {}, None, freshness, None, None, 3)


@pytest.mark.parametrize(
    ("status", "last", "open_keys", "expected"),
    [
        ("stale", T0 - timedelta(hours=2), [], (["stale:k"], [])),
        ("stale", T0 - timedelta(hours=3), ["stale:k"], ([], [])),  # still stale: no second alert
        ("fresh", T0 - timedelta(minutes=5), ["stale:k"], ([], ["stale:k"])),
        ("fresh", T0 - timedelta(minutes=5), [], ([], [])),
        ("never run", None, [], ([], [])),  # a new entry is not stale
    ],
)
def test_staleness(status, last, open_keys, expected):
    report = Freshness(entry(), status, last)
    found = changes(stale_conditions([("k", report)], T0), {k: opened(k, "stale") for k in open_keys})
    assert summary_of(found) == expected


def test_a_stale_entry_says_how_old_its_last_success_is():
    (condition,) = stale_conditions([("k", Freshness(entry(), "stale", T0 - timedelta(hours=2, seconds=5)))], T0)
    assert condition.summary == "g/stars (hourly) is stale: last success 2h ago"
    assert condition.subject == "g/stars"


GRACE = timedelta(minutes=2)


@pytest.mark.parametrize(
    ("workers", "gone"),
    [
        ({"w1@a": (T0 - timedelta(hours=1), T0 - timedelta(minutes=1))}, []),  # within the grace
        ({"w1@a": (T0 - timedelta(hours=1), T0 - timedelta(minutes=3))}, ["worker_gone:w1@a"]),
        # restarted under a new name on the same host: replaced, not gone
        (
            {"w1@a": (T0 - timedelta(hours=1), T0 - timedelta(minutes=10)), "w2@a": (T0 - timedelta(minutes=9), T0)},
            [],
        ),
        # a newer worker on another host does not replace it
        (
            {"w1@a": (T0 - timedelta(hours=1), T0 - timedelta(minutes=10)), "w2@b": (T0 - timedelta(minutes=9), T0)},
            ["worker_gone:w1@a"],
        ),
    ],
)
def test_workers(workers, gone):
    seen = {name: WorkerSeen(name, first, last) for name, (first, last) in workers.items()}
    assert sorted(c.key for c in worker_conditions(seen, T0, GRACE) if c.bad) == gone


def test_a_worker_that_answers_again_resolves_its_incident():
    seen = {"w1@a": WorkerSeen("w1@a", T0 - timedelta(hours=1), T0)}
    found = changes(worker_conditions(seen, T0, GRACE), {"worker_gone:w1@a": opened("worker_gone:w1@a", "worker_gone")})
    assert summary_of(found) == ([], ["worker_gone:w1@a"])


def test_checks_open_on_failure_and_resolve_on_the_next_pass():
    failing = CheckStatus("stars", False, "401 Unauthorized", T0, params_key="p1")
    passing = CheckStatus("stars", True, "ok", T0 + timedelta(minutes=15), params_key="p1")
    assert summary_of(changes(check_conditions([failing]), {})) == (["check_failed:stars:p1"], [])
    assert summary_of(changes(check_conditions([failing, passing]), {failing.key: opened(failing.key)})) == (
        [],
        ["check_failed:stars:p1"],
    )
    (condition,) = check_conditions([failing])
    assert condition.summary == "stars check failed: 401 Unauthorized"
