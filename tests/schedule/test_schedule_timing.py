"""next_run and friends: pure functions of the time passed in; DST, month ends and catch-up as table rows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from harvester.schedule.entries import ScheduleEntry, ScheduleSpec, parse_schedule
from harvester.schedule.timing import derived_freshness, due, next_run, next_runs, resolve

BERLIN = ZoneInfo("Europe/Berlin")


def entry(schedule: str, at: str | None = None, *, weekday: int | None = None, monthday: int | None = None):
    spec = parse_schedule(schedule)
    if weekday is not None or monthday is not None:
        spec = ScheduleSpec(kind=spec.kind, weekday=weekday, monthday=monthday)
    clock = time.fromisoformat(at) if at else None
    return ScheduleEntry(
        group="g",
        index=0,
        collector="c",
        spec=spec,
        at=clock,
        enabled=True,
        params={},
        when=None,
        freshness=derived_freshness(spec),
        queue=None,
        overlap=None,
        line=1,
    )


def runs(item: ScheduleEntry, zone: str, after: str, n: int = 3) -> list[str]:
    tz = ZoneInfo(zone)
    return [run.isoformat() for run in next_runs(item, datetime.fromisoformat(after), tz, n)]


@pytest.mark.parametrize(
    ("item", "zone", "after", "expected"),
    [
        pytest.param(
            entry("daily", "02:30"),
            "Europe/Berlin",
            "2025-03-29T12:00+01:00",
            ["2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00", "2025-04-01T02:30:00+02:00"],
            id="daily 02:30 on the spring-forward day runs once, at 03:00",
        ),
        pytest.param(
            entry("daily", "02:30"),
            "Europe/Berlin",
            "2025-10-25T12:00+02:00",
            ["2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00", "2025-10-28T02:30:00+01:00"],
            id="daily 02:30 on the fall-back day runs once, on the first pass",
        ),
        pytest.param(
            entry("daily", "02:30"),
            "Europe/Berlin",
            "2025-10-26T02:30+02:00",
            ["2025-10-27T02:30:00+01:00"],
            id="not again on the second pass of 02:30",
        ),
        pytest.param(
            entry("daily", "02:30"),
            "America/New_York",
            "2025-03-08T12:00-05:00",
            ["2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"],
            id="New York spring-forward",
        ),
        pytest.param(
            entry("daily", "00:05"),
            "UTC",
            "2025-01-01T00:05Z",
            ["2025-01-02T00:05:00+00:00", "2025-01-03T00:05:00+00:00"],
            id="daily: strictly after",
        ),
        pytest.param(
            entry("hourly"),
            "Europe/Berlin",
            "2025-03-30T00:30+01:00",
            ["2025-03-30T01:00:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-30T04:00:00+02:00"],
            id="hourly across spring-forward: 02:00 does not exist",
        ),
        pytest.param(
            entry("hourly"),
            "Europe/Berlin",
            "2025-10-26T01:30+02:00",
            ["2025-10-26T02:00:00+02:00", "2025-10-26T02:00:00+01:00", "2025-10-26T03:00:00+01:00"],
            id="hourly across fall-back: both passes of 02:00",
        ),
        pytest.param(
            entry("hourly"),
            "Asia/Kolkata",
            "2025-01-01T10:10+05:30",
            ["2025-01-01T11:00:00+05:30", "2025-01-01T12:00:00+05:30"],
            id="hourly on the local hour with a half-hour offset",
        ),
        pytest.param(
            entry("weekly", "09:00", weekday=0),
            "UTC",
            "2025-01-01T00:00Z",
            ["2025-01-06T09:00:00+00:00", "2025-01-13T09:00:00+00:00", "2025-01-20T09:00:00+00:00"],
            id="weekly on monday",
        ),
        pytest.param(
            entry("weekly", "09:00", weekday=6),
            "UTC",
            "2025-01-05T09:00Z",
            ["2025-01-12T09:00:00+00:00"],
            id="weekly on sunday, after the day's run",
        ),
        pytest.param(
            entry("weekly", "02:30", weekday=6),
            "Europe/Berlin",
            "2025-03-29T00:00+01:00",
            ["2025-03-30T03:00:00+02:00", "2025-04-06T02:30:00+02:00"],
            id="weekly on the spring-forward sunday",
        ),
        pytest.param(
            entry("monthly", "00:00", monthday=31),
            "UTC",
            "2024-01-31T00:00Z",
            ["2024-02-29T00:00:00+00:00", "2024-03-31T00:00:00+00:00", "2024-04-30T00:00:00+00:00"],
            id="monthly on 31: last day of February in a leap year, of April",
        ),
        pytest.param(
            entry("monthly", "06:00", monthday=31),
            "UTC",
            "2025-02-01T00:00Z",
            ["2025-02-28T06:00:00+00:00", "2025-03-31T06:00:00+00:00"],
            id="monthly on 31: 28 February in a common year",
        ),
        pytest.param(
            entry("monthly", "00:00", monthday=30),
            "UTC",
            "2025-01-30T00:00Z",
            ["2025-02-28T00:00:00+00:00", "2025-03-30T00:00:00+00:00"],
            id="monthly on 30",
        ),
        pytest.param(
            entry("monthly", "00:00", monthday=1),
            "Europe/Berlin",
            "2025-12-15T00:00+01:00",
            ["2026-01-01T00:00:00+01:00", "2026-02-01T00:00:00+01:00"],
            id="monthly across the new year",
        ),
        pytest.param(
            entry("every 30s"),
            "UTC",
            "2025-01-01T00:00:10Z",
            ["2025-01-01T00:00:30+00:00", "2025-01-01T00:01:00+00:00", "2025-01-01T00:01:30+00:00"],
            id="every 30s",
        ),
        pytest.param(
            entry("every 15m"),
            "Europe/Berlin",
            "2025-03-30T01:50+01:00",
            ["2025-03-30T03:00:00+02:00", "2025-03-30T03:15:00+02:00", "2025-03-30T03:30:00+02:00"],
            id="every 15m is elapsed time: 15 minutes across the gap",
        ),
        pytest.param(
            entry("every 2h"),
            "UTC",
            "2025-01-01T01:00Z",
            ["2025-01-01T02:00:00+00:00", "2025-01-01T04:00:00+00:00"],
            id="every 2h on even UTC hours",
        ),
        pytest.param(
            entry("*/20 9-10 * * mon-fri"),
            "UTC",
            "2025-01-03T10:45Z",
            ["2025-01-06T09:00:00+00:00", "2025-01-06T09:20:00+00:00", "2025-01-06T09:40:00+00:00"],
            id="cron steps, ranges, weekday names: friday evening to monday",
        ),
        pytest.param(
            entry("0 0 29 2 *"),
            "UTC",
            "2025-01-01T00:00Z",
            ["2028-02-29T00:00:00+00:00"],
            id="cron 29 February",
        ),
        pytest.param(
            entry("0 12 1 jan,jul *"),
            "UTC",
            "2025-02-01T00:00Z",
            ["2025-07-01T12:00:00+00:00", "2026-01-01T12:00:00+00:00"],
            id="cron month names",
        ),
        pytest.param(
            entry("0 0 13 * fri"),
            "UTC",
            "2025-06-01T00:00Z",
            ["2025-06-06T00:00:00+00:00", "2025-06-13T00:00:00+00:00", "2025-06-20T00:00:00+00:00"],
            id="cron day and weekday both restricted: either matches",
        ),
        pytest.param(
            entry("0 7 * * 7"),
            "UTC",
            "2025-01-01T00:00Z",
            ["2025-01-05T07:00:00+00:00"],
            id="cron weekday 7 is sunday",
        ),
        pytest.param(
            entry("5/20 * * * *"),
            "UTC",
            "2025-01-01T00:00Z",
            ["2025-01-01T00:05:00+00:00", "2025-01-01T00:25:00+00:00", "2025-01-01T00:45:00+00:00"],
            id="cron start/step",
        ),
        pytest.param(
            entry("0-30/15 8 * * *"),
            "UTC",
            "2025-01-01T00:00Z",
            ["2025-01-01T08:00:00+00:00", "2025-01-01T08:15:00+00:00", "2025-01-01T08:30:00+00:00"],
            id="cron range/step",
        ),
        pytest.param(
            entry("30 2 * * *"),
            "Europe/Berlin",
            "2025-03-29T12:00+01:00",
            ["2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"],
            id="cron 02:30 on the spring-forward day",
        ),
        pytest.param(
            entry("30 2 * * *"),
            "Europe/Berlin",
            "2025-10-25T12:00+02:00",
            ["2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"],
            id="cron 02:30 on the fall-back day",
        ),
        pytest.param(
            entry("*/30 * * * *"),
            "Europe/Berlin",
            "2025-03-30T01:40+01:00",
            ["2025-03-30T03:00:00+02:00", "2025-03-30T03:30:00+02:00"],
            id="cron every half hour: the gap's wall times collapse into one run at 03:00",
        ),
        pytest.param(
            entry("*/30 * * * *"),
            "Europe/Berlin",
            "2025-10-26T02:40+01:00",
            ["2025-10-26T03:00:00+01:00"],
            id="cron during the second pass of the repeated hour waits for 03:00",
        ),
    ],
)
def test_next_runs(item, zone, after, expected):
    assert runs(item, zone, after, len(expected)) == expected


def test_a_daily_entry_runs_exactly_once_on_each_dst_day():
    item = entry("daily", "02:30")
    for day_before, day in (("2025-03-29", "2025-03-30"), ("2025-10-25", "2025-10-26")):
        start = datetime.fromisoformat(f"{day_before}T12:00").replace(tzinfo=BERLIN)
        found = [r for r in next_runs(item, start, BERLIN, 5) if r.date().isoformat() == day]
        assert len(found) == 1


def test_results_are_in_the_schedules_time_zone():
    run = next_run(entry("daily", "08:00"), datetime(2025, 1, 1, tzinfo=UTC), BERLIN)
    assert run.tzinfo is BERLIN
    assert run.isoformat() == "2025-01-01T08:00:00+01:00"


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError, match="aware"):
        next_run(entry("hourly"), datetime(2025, 1, 1), BERLIN)


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        ("2025-03-30T02:30", "2025-03-30T03:00:00+02:00"),
        ("2025-03-30T02:00", "2025-03-30T03:00:00+02:00"),
        ("2025-03-30T03:00", "2025-03-30T03:00:00+02:00"),
        ("2025-10-26T02:30", "2025-10-26T02:30:00+02:00"),
        ("2025-06-01T12:00", "2025-06-01T12:00:00+02:00"),
    ],
)
def test_resolve_moves_gaps_to_their_end_and_takes_the_first_pass_of_a_repeat(wall, expected):
    assert resolve(datetime.fromisoformat(wall), BERLIN).isoformat() == expected


@pytest.mark.parametrize(
    ("item", "last_checked", "now", "expected"),
    [
        pytest.param(
            entry("daily", "02:00"),
            "2025-01-01T03:00Z",
            "2025-01-04T03:00Z",
            "2025-01-04T02:00:00+00:00",
            id="three missed days run once",
        ),
        pytest.param(entry("daily", "02:00"), "2025-01-01T03:00Z", "2025-01-02T01:59Z", None, id="nothing due"),
        pytest.param(
            entry("daily", "02:00"),
            "2025-01-01T03:00Z",
            "2025-01-02T02:00Z",
            "2025-01-02T02:00:00+00:00",
            id="due at the exact time",
        ),
        pytest.param(
            entry("every 15m"),
            "2025-01-01T00:00Z",
            "2025-01-01T05:20Z",
            "2025-01-01T05:15:00+00:00",
            id="missed intervals run once",
        ),
        pytest.param(entry("every 15m"), "2025-01-01T00:00Z", "2025-01-01T00:14Z", None, id="interval not yet"),
        pytest.param(
            entry("*/5 * * * *"),
            "2025-01-01T00:00Z",
            "2025-01-01T01:02Z",
            "2025-01-01T01:00:00+00:00",
            id="missed cron ticks run once",
        ),
    ],
)
def test_due_is_the_latest_missed_occurrence(item, last_checked, now, expected):
    found = due(item, datetime.fromisoformat(last_checked), datetime.fromisoformat(now), UTC)
    assert (found.isoformat() if found else None) == expected


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("hourly", timedelta(hours=2)),
        ("daily", timedelta(hours=26)),
        ("weekly", timedelta(days=7, hours=2)),
        ("monthly", timedelta(days=31, hours=2)),
        ("every 15m", timedelta(minutes=45)),
        ("every 30s", timedelta(seconds=90)),
        ("every 2h", timedelta(hours=3)),
        ("every 1d", timedelta(hours=26)),
        ("*/5 * * * *", timedelta(minutes=15)),
        ("0 * * * *", timedelta(hours=2)),
        ("0 9 * * mon-fri", timedelta(days=3, hours=2)),
        ("*/20 9-17 * * mon-fri", timedelta(days=2, hours=15, minutes=20) + timedelta(hours=2)),
        ("0 0 1 * *", timedelta(days=31, hours=2)),
    ],
)
def test_derived_freshness(schedule, expected):
    assert derived_freshness(parse_schedule(schedule)) == expected


def test_interval_minutes_freshness_matches_the_shorthand():
    assert derived_freshness(ScheduleSpec(kind="interval", every=timedelta(minutes=1440))) == timedelta(hours=26)
    assert derived_freshness(ScheduleSpec(kind="interval", every=timedelta(minutes=15))) == timedelta(minutes=45)
