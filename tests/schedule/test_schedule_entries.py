"""The scalar values of a schedule file: schedule strings, times, weekdays, durations."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from harvester.errors import ConfigError
from harvester.schedule.entries import (
    ScheduleError,
    ScheduleProblem,
    format_duration,
    parse_duration,
    parse_minutes,
    parse_monthday,
    parse_overlap,
    parse_predicate,
    parse_schedule,
    parse_time,
    parse_weekday,
)


@pytest.mark.parametrize(
    ("text", "kind", "every"),
    [
        ("hourly", "hourly", None),
        ("daily", "daily", None),
        (" Daily ", "daily", None),
        ("weekly", "weekly", None),
        ("monthly", "monthly", None),
        ("interval", "interval", None),
        ("every 30s", "interval", timedelta(seconds=30)),
        ("every 15m", "interval", timedelta(minutes=15)),
        ("every 2h", "interval", timedelta(hours=2)),
        ("every 1d", "interval", timedelta(days=1)),
        ("every 5 m", "interval", timedelta(minutes=5)),
        ("*/5 * * * *", "cron", None),
        ("0 2 * * MON", "cron", None),
    ],
)
def test_schedule_forms(text, kind, every):
    spec = parse_schedule(text)
    assert (spec.kind, spec.every) == (kind, every)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "dayly",
            "bad schedule 'dayly' (did you mean 'daily'?): expected hourly, daily, weekly, monthly, interval, "
            "every <N>s|m|h|d or a 5-field cron expression",
        ),
        ("every 0m", "bad interval 'every 0m': expected every <N>s, <N>m, <N>h or <N>d with N >= 1"),
        ("every 15 minutes", "bad interval 'every 15 minutes': expected every <N>s, <N>m, <N>h or <N>d with N >= 1"),
        ("0 2 * *", "bad schedule '0 2 * *': a cron expression has 5 fields, got 4"),
        ("0 2 * * * *", "bad schedule '0 2 * * * *': a cron expression has 5 fields, got 6"),
        ("0 25 * * *", "bad cron expression '0 25 * * *': hour value 25 is out of range 0-23"),
    ],
)
def test_bad_schedules(text, message):
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("spec", "at", "text"),
    [
        (parse_schedule("daily"), time(2, 30), "daily at 02:30"),
        (parse_schedule("hourly"), None, "hourly"),
        (parse_schedule("every 15m"), None, "every 15m"),
        (parse_schedule("*/5 * * * *"), None, "cron */5 * * * *"),
    ],
)
def test_describe(spec, at, text):
    assert spec.describe(at) == text


def test_times():
    assert parse_time("02:30", "at") == time(2, 30)
    assert parse_time("7:05", "at") == time(7, 5)
    for bad in ("24:00", "12:60", "noon", "12", "12:5"):
        with pytest.raises(ValueError, match=f"bad time '{bad}' for `at`: expected HH:MM"):
            parse_time(bad, "at")


def test_weekdays_and_monthdays():
    assert [parse_weekday(d) for d in ("monday", "Mon", "SUNDAY", "sun")] == [0, 0, 6, 6]
    with pytest.raises(ValueError, match="expected a weekday"):
        parse_weekday("funday")
    assert parse_monthday(31) == 31
    assert parse_monthday("15") == parse_monthday(" 15 ") == 15  # quoted, as people write it
    for bad in (0, 32, "32", "1st", "-1", True, 1.0):
        with pytest.raises(ValueError, match=r"expected a day of the month, 1\.\.31"):
            parse_monthday(bad)


def test_minutes():
    assert parse_minutes(1440) == timedelta(days=1)
    assert parse_minutes("30") == timedelta(minutes=30)
    for bad in (0, 1441, "1441", "30m", 1.5, False):
        with pytest.raises(ValueError, match=r"expected a whole number of minutes, 1..1440"):
            parse_minutes(bad)


@pytest.mark.parametrize(
    ("text", "expected", "formatted"),
    [
        ("26h", timedelta(hours=26), "26h"),
        ("45m", timedelta(minutes=45), "45m"),
        ("2d", timedelta(days=2), "2d"),
        ("1d12h", timedelta(hours=36), "36h"),
        ("90s", timedelta(seconds=90), "1m30s"),
        ("1w", timedelta(days=7), "7d"),
        ("7d 2h", timedelta(days=7, hours=2), "7d2h"),
    ],
)
def test_durations(text, expected, formatted):
    assert parse_duration(text) == expected
    assert format_duration(expected) == formatted


@pytest.mark.parametrize("bad", ["26 hours", "h", "0m", "-5m", "1.5h"])
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="bad `freshness`"):
        parse_duration(bad)


def test_predicates_and_overlap():
    assert parse_predicate("myapp.checks:on_release") == "myapp.checks:on_release"
    with pytest.raises(ValueError, match=r"expected package\.module:function"):
        parse_predicate("on_release")
    assert parse_overlap("queue") == "queue"
    with pytest.raises(ValueError, match="expected skip or queue"):
        parse_overlap("wait")


def test_problems_print_as_file_line_message_and_the_error_lists_them():
    problems = [ScheduleProblem("schedule.yaml", 3, "one"), ScheduleProblem("schedule.yaml", 9, "two")]
    assert str(problems[0]) == "schedule.yaml:3: one"
    error = ScheduleError(problems)
    assert isinstance(error, ConfigError)
    assert str(error) == "schedule.yaml:3: one\nschedule.yaml:9: two"
    assert error.problems == tuple(problems)
