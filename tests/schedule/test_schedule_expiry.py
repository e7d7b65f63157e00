"""`expires:` of a schedule entry: given, `never`, or derived from the period (at most one hour);
a triggered run's expiry from seconds or a duration."""

from __future__ import annotations

from datetime import timedelta

import pytest

from harvester.execution.requests import entry_requests
from harvester.schedule.entries import expiry_seconds, parse_schedule
from harvester.schedule.loader import parse_schedule_text
from harvester.schedule.timing import EXPIRY_CAP, derived_expiry


def task(extra: str = "", schedule: str = "every 3s") -> str:
    return f"groups:\n  g:\n    tasks:\n      - collector: pinger\n        schedule: {schedule}\n{extra}"


@pytest.mark.parametrize(
    ("schedule", "expires"),
    [
        ("every 3s", timedelta(seconds=3)),
        ("every 15m", timedelta(minutes=15)),
        ("hourly", timedelta(hours=1)),
        ("daily", EXPIRY_CAP),
        ("*/5 * * * *", timedelta(minutes=5)),
        ("0 9 * * mon-fri", EXPIRY_CAP),
    ],
)
def test_the_default_expiry_is_the_period_at_most_an_hour(schedule, expires):
    assert derived_expiry(parse_schedule(schedule)) == expires


@pytest.mark.parametrize(
    ("value", "expires"),
    [("10m", timedelta(minutes=10)), ("1h30m", timedelta(minutes=90)), ("never", None), ("0", None), ("NEVER", None)],
)
def test_an_entry_takes_its_expires(registry, value, expires):
    schedule = parse_schedule_text(task(f"        expires: {value}\n"), registry)
    assert schedule.problems == ()
    assert schedule.entries[0].expires == expires


def test_an_entry_without_expires_gets_the_derived_one(registry):
    [entry] = parse_schedule_text(task(schedule="daily"), registry).entries
    assert entry.expires == EXPIRY_CAP


def test_a_bad_expires_names_its_line_and_the_fix(registry):
    schedule = parse_schedule_text(task("        expires: soon\n"), registry, path="schedule.yaml")
    assert [str(p) for p in schedule.problems] == [
        "schedule.yaml:6: bad `expires` 'soon': expected a duration like 30s, 10m or 2h, or `never` (or 0) to disable"
    ]


def test_an_entrys_runs_carry_its_expiry_in_seconds(registry):
    [entry] = parse_schedule_text(task("        expires: 10m\n"), registry).entries
    assert [r.expires for r in entry_requests(registry, entry)] == [600.0]
    [forever] = parse_schedule_text(task("        expires: never\n"), registry).entries
    assert [r.expires for r in entry_requests(registry, forever)] == [None]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, None), (0, None), ("never", None), (90, 90.0), (1.5, 1.5), ("90", 90.0), ("10m", 600.0)],
)
def test_a_triggered_runs_expiry(value, seconds):
    assert expiry_seconds(value) == seconds


@pytest.mark.parametrize("value", ["soon", -1, "-1", "inf", "nan", True, [1]])
def test_a_bad_triggered_expiry_is_refused(value):
    with pytest.raises(ValueError, match="expir"):
        expiry_seconds(value)


def test_schedule_show_gives_each_entrys_expiry(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from harvester.cli import cli

    (tmp_path / "schedule.yaml").write_text(
        task("        expires: 10m\n") + task(schedule="daily").split("tasks:\n")[1]
    )
    monkeypatch.setenv("HARVESTER_COLLECTORS", "schedule_collectors")
    monkeypatch.setenv("HARVESTER_SCHEDULE_FILE", str(tmp_path / "schedule.yaml"))
    runner = CliRunner()
    shown = json.loads(runner.invoke(cli, ["schedule", "show", "--json"], catch_exceptions=False).stdout)
    assert [e["expires"] for e in shown["entries"]] == [600.0, 3600.0]
    table = runner.invoke(cli, ["schedule", "show"], catch_exceptions=False).stdout
    assert "expires" in table
    assert "10m" in table
