"""The schedule entry view shared by `harvester list`, the API and the dashboard (pure: history and time
passed in), and the reading of the schedule file behind it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harvester.schedule.freshness import entry_key
from harvester.schedule.groups import Batch
from harvester.schedule.loader import parse_schedule_text
from harvester.schedule.overview import (
    ScheduleFile,
    ScheduleHistory,
    entry_views,
    read_schedule_file,
    schedule_overview,
)

NOW = datetime(2026, 3, 2, 12, 7, tzinfo=UTC)
TEXT = """
timezone: Europe/Berlin
groups:
  g:
    tasks:
      - collector: github_stars
        schedule: daily
        at: "02:30"
        params: {repo: a/b}
      - collector: github_stars
        schedule: every 15m
        params: {repo: c/d}
      - collector: pinger
        schedule: hourly
      - collector: pinger
        schedule: daily
        params: {count: 2}
        enabled: false
  h:
    tasks:
      - collector: github_stars
        schedule: hourly
        params: {repo: e/f}
      - collector: no_such_collector
        schedule: daily
"""


def test_entry_views_name_next_run_and_freshness_in_file_order(registry):
    schedule = parse_schedule_text(TEXT, registry)
    daily = schedule.entries[0]
    history = ScheduleHistory(entry_successes={entry_key(daily, registry): NOW - timedelta(hours=2)})
    views = entry_views(schedule, registry, history, NOW)
    assert [v.name for v in views] == ["g/github_stars@6", "g/github_stars@10", "g/pinger", "h/github_stars"]
    first = views[0]
    assert (first.collector, first.group, first.line, first.schedule) == ("github_stars", "g", 6, "daily at 02:30")
    assert first.next_run == datetime(2026, 3, 3, 2, 30, tzinfo=schedule.timezone)
    assert [v.status for v in views] == ["fresh", "never run", "never run", "never run"]
    assert first.as_dict() == {
        "name": "g/github_stars@6",
        "group": "g",
        "line": 6,
        "params": {"repo": "a/b"},
        "schedule": "daily at 02:30",
        "next_run": first.next_run,
        "freshness": "26h",
        "status": "fresh",
        "stale": False,
        "last_success_at": NOW - timedelta(hours=2),
        "group_last_batch": None,
    }


def test_overview_groups_entries_per_registered_collector_with_last_run_and_success(registry):
    schedule = parse_schedule_text(TEXT, registry)
    last_run = {"status": "failed", "queued_at": NOW - timedelta(minutes=5)}
    history = ScheduleHistory(
        entry_successes={entry_key(schedule.entries[0], registry): NOW - timedelta(hours=30)},
        collector_successes={"github_stars": NOW - timedelta(hours=1)},  # newest of any params
        last_runs={"pinger": last_run},
    )
    overview = schedule_overview(ScheduleFile(schedule), registry, history, NOW)
    assert [c.name for c in overview.collectors] == ["github_stars", "heartbeat_demo", "pinger"]
    stars, heartbeat, pinger = overview.collectors
    assert [e.line for e in stars.entries] == [6, 10, 21]
    assert stars.entries[0].status == "stale"
    assert stars.last_success_at == NOW - timedelta(hours=1)  # newest success of any params
    assert (stars.last_run, heartbeat.entries, heartbeat.last_success_at) == (None, (), None)
    assert pinger.last_run == last_run
    assert [e.name for e in overview.entries] == ["g/github_stars@6", "g/github_stars@10", "g/pinger", "h/github_stars"]
    assert pinger.entries == (overview.entries[2],)
    assert [p.line for p in overview.file.problems] == [24]


def test_without_a_schedule_every_collector_is_listed_unscheduled(registry):
    overview = schedule_overview(ScheduleFile(None, missing=True), registry, ScheduleHistory(), NOW)
    assert (overview.entries, overview.groups) == ((), ())
    assert [(c.name, c.entries) for c in overview.collectors] == [
        ("github_stars", ()),
        ("heartbeat_demo", ()),
        ("pinger", ()),
    ]
    assert overview.file.problems == ()


def test_reading_tells_a_missing_file_from_an_unreadable_one(write, registry, tmp_path):
    missing = read_schedule_file(tmp_path / "nowhere.yaml", registry)
    assert (missing.schedule, missing.missing, missing.error) == (None, True, None)
    broken = tmp_path / "broken.yaml"
    broken.write_bytes(b"\xff\xfe not utf-8")
    unreadable = read_schedule_file(broken, registry)
    assert (unreadable.schedule, unreadable.missing) == (None, False)
    assert unreadable.error is not None
    assert unreadable.error.startswith("cannot read schedule file")
    path = write("groups:\n  g:\n    tasks:\n      - collector: pinger\n        schedule: often\n")
    lenient = read_schedule_file(path, registry)
    assert lenient.schedule is not None
    assert lenient.schedule.entries == ()
    assert [p.line for p in lenient.problems] == [5]


def test_each_group_shows_its_last_batch_and_each_entry_its_groups(registry):
    schedule = parse_schedule_text(TEXT, registry)
    batch = Batch("20260302T020000.000000Z-1a2b3c4d", NOW - timedelta(hours=10), None, {"succeeded": 2, "running": 1})
    history = ScheduleHistory(last_batches={"g": batch})
    overview = schedule_overview(ScheduleFile(schedule), registry, history, NOW)
    assert [(g.name, g.entries, g.last_batch) for g in overview.groups] == [("g", 3, batch), ("h", 1, None)]
    assert [e.group_last_batch for e in overview.entries] == [batch, batch, batch, None]
    assert overview.groups[0].as_dict() == {
        "group": "g",
        "entries": 3,
        "last_batch": {
            "batch_id": "20260302T020000.000000Z-1a2b3c4d",
            "started_at": NOW - timedelta(hours=10),
            "ended_at": None,
            "outcome": "running",
            "runs": 3,
            "succeeded": 2,
            "failed": 0,
            "unfinished": 1,
            "counts": {"succeeded": 2, "running": 1},
        },
    }
