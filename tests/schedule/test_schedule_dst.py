"""Daylight saving, one rule for every schedule form (cronie's): a job whose hour is a wildcard or a step
(and ``hourly``, ``every N``) runs in both passes of a repeated hour; a job with a fixed hour runs once, in
the first pass. A frozen clock walks the 2026 spring and autumn changes of Europe/Berlin and
America/New_York; derived freshness never fires on a correct schedule."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from harvester.schedule.loader import parse_schedule_text
from harvester.schedule.timing import due, next_run

# (zone, day of the change, the wall hour that is skipped or repeated)
CHANGES = [
    pytest.param(("Europe/Berlin", date(2026, 3, 29), 2, "spring"), id="Berlin spring"),
    pytest.param(("Europe/Berlin", date(2026, 10, 25), 2, "autumn"), id="Berlin autumn"),
    pytest.param(("America/New_York", date(2026, 3, 8), 2, "spring"), id="New York spring"),
    pytest.param(("America/New_York", date(2026, 11, 1), 1, "autumn"), id="New York autumn"),
]

# schedule text -> runs in both passes of a repeated hour (True), once, in the first (False), or every
# period of elapsed time whatever the clock says (None: an interval longer than the repeated hour)
FORMS = {
    "schedule: hourly": True,
    "schedule: every 15m": True,
    "schedule: every 2h": None,
    "schedule: interval\n  minutes: 30": True,
    "schedule: '*/30 * * * *'": True,
    "schedule: '0 * * * *'": True,
    "schedule: '15 */2 * * *'": True,
    "schedule: '*/10 0-4/1 * * *'": True,
    "schedule: daily\n  at: '{h}:30'": False,
    "schedule: daily\n  at: '{h}:00'": False,
    "schedule: weekly\n  on: sunday\n  at: '{h}:30'": False,
    "schedule: monthly\n  day_of_month: '{d}'\n  at: '{h}:30'": False,
    "schedule: '30 {h} * * *'": False,
    "schedule: '*/20 {h} * * *'": False,
    "schedule: '0 {h},12 * * *'": False,
    "schedule: '0 9 * * mon-fri'": False,
}


def entries(zone: str, day: date, hour: int):
    tasks = "".join(
        f"- collector: pinger\n  params: {{count: {i + 1}}}\n  " + form.format(h=f"{hour:02d}", d=day.day) + "\n"
        for i, form in enumerate(FORMS)
    )
    return f"timezone: {zone}\ngroups:\n  g:\n    tasks:\n" + "".join(f"      {line}\n" for line in tasks.splitlines())


@pytest.fixture(params=CHANGES)
def change(request, registry):
    zone, day, hour, season = request.param
    schedule = parse_schedule_text(entries(zone, day, hour), registry)
    assert schedule.problems == ()
    assert len(schedule.entries) == len(FORMS)
    return schedule, ZoneInfo(zone), day, hour, season


def occurrences(entry, tz, start: datetime, end: datetime) -> list[datetime]:
    """In the zone (``fold`` tells the passes apart); compared and subtracted in UTC only, since aware
    datetimes sharing a tzinfo compare and subtract by wall time."""
    found, moment = [], start
    while True:
        moment = next_run(entry, moment, tz)
        if moment.astimezone(UTC) > end:
            return found
        found.append(moment)


def utc(moments: list[datetime]) -> list[datetime]:
    return [m.astimezone(UTC) for m in moments]


def window(tz, day: date, days: int = 4) -> tuple[datetime, datetime]:
    """``days`` either side of the change."""
    start = datetime.combine(day - timedelta(days=days), datetime.min.time(), tzinfo=tz)
    return start.astimezone(UTC), (start + timedelta(days=2 * days)).astimezone(UTC)


def test_each_form_follows_the_one_rule(change):
    schedule, tz, day, hour, season = change
    start, end = window(tz, day)
    for entry, both in zip(schedule.entries, FORMS.values(), strict=True):
        runs = occurrences(entry, tz, start, end)
        in_changed_hour = [r for r in runs if r.date() == day and r.hour == hour]
        walls = [r.replace(tzinfo=None) for r in in_changed_hour]
        if season == "autumn" and both:  # each wall time of the repeated hour twice, an hour apart
            assert all(walls.count(w) == 2 for w in walls), entry.schedule_text
            assert all(r.fold == 1 for r in in_changed_hour[len(walls) // 2 :]), entry.schedule_text
        elif both is False:  # a wall time never runs twice
            assert len(walls) == len(set(walls)), entry.schedule_text
        assert len(set(utc(runs))) == len(runs), entry.schedule_text
        assert utc(runs) == sorted(utc(runs)), entry.schedule_text


def test_a_fixed_hour_runs_once_on_the_day_of_the_change(change):
    schedule, tz, day, _hour, season = change
    start, end = window(tz, day)
    for entry, both in zip(schedule.entries, FORMS.values(), strict=True):
        if both is not False or entry.schedule_text == "cron 0 9 * * mon-fri":  # the change is on a Sunday
            continue
        on_day = [r for r in occurrences(entry, tz, start, end) if r.date() == day]
        expected = 2 if entry.spec.cron is not None and 12 in entry.spec.cron.hours else 1
        if entry.spec.cron is not None and entry.spec.cron.minutes == (0, 20, 40):
            expected = 3 if season == "autumn" else 1  # the skipped hour's three times collapse into one
        assert len(on_day) == expected, (entry.schedule_text, on_day)


def test_derived_freshness_never_fires_on_a_correct_schedule(change):
    """The longest real gap between two runs (a success at each) stays within the derived window."""
    schedule, tz, day, _hour, _season = change
    start, end = window(tz, day, days=35)
    for entry in schedule.entries:
        runs = utc(occurrences(entry, tz, start, end))
        gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
        assert max(gaps) <= entry.freshness, (entry.schedule_text, max(gaps), entry.freshness)


def test_minute_and_hour_forms_never_leave_a_gap_longer_than_their_period(change):
    schedule, tz, day, _hour, season = change
    start, end = window(tz, day)
    periods = {
        "every 15m": 15,
        "every 30m": 30,
        "every 2h": 120,
        "cron */30 * * * *": 30,
        "hourly": 60,
        "cron 0 * * * *": 60,
    }
    for entry in schedule.entries:
        if entry.schedule_text not in periods:
            continue
        runs = utc(occurrences(entry, tz, start, end))
        gaps = {later - earlier for earlier, later in itertools.pairwise(runs)}
        assert gaps == {timedelta(minutes=periods[entry.schedule_text])}, (entry.schedule_text, season, gaps)


def test_0_star_is_hourly(change):
    schedule, tz, day, _hour, _season = change
    start, end = window(tz, day)
    by_text = {e.schedule_text: e for e in schedule.entries}
    hourly = utc(occurrences(by_text["hourly"], tz, start, end))
    assert hourly == utc(occurrences(by_text["cron 0 * * * *"], tz, start, end))


def test_a_ticking_scheduler_dispatches_exactly_the_occurrences(change):
    """``due`` called every 5 minutes of frozen time across the change finds each occurrence once."""
    schedule, tz, day, _hour, _season = change
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC) - timedelta(hours=2)
    end = start + timedelta(hours=8)
    for entry in schedule.entries:
        dispatched, last = [], start
        now = start
        while now < end:
            now += timedelta(minutes=5)
            occurrence = due(entry, last, now, tz)
            if occurrence is not None:
                dispatched.append(occurrence.astimezone(UTC))
                last = occurrence
        assert dispatched == utc(occurrences(entry, tz, start, end)), entry.schedule_text


@pytest.mark.parametrize(
    ("form", "zone", "after", "expected"),
    [
        pytest.param(
            "schedule: '*/30 * * * *'",
            "Europe/Berlin",
            "2026-10-25T01:45+02:00",
            ["02:00+02:00", "02:30+02:00", "02:00+01:00", "02:30+01:00", "03:00+01:00"],
            id="*/30 runs both passes of 02:00-03:00 (no 90-minute gap)",
        ),
        pytest.param(
            "schedule: '0 * * * *'",
            "Europe/Berlin",
            "2026-10-25T01:30+02:00",
            ["02:00+02:00", "02:00+01:00", "03:00+01:00"],
            id="0 * runs like hourly",
        ),
        pytest.param(
            "schedule: '30 2 * * *'",
            "Europe/Berlin",
            "2026-10-25T01:30+02:00",
            ["02:30+02:00", "02:30+01:00"],  # the second is the next day's
            id="a fixed hour runs once, in the first pass",
        ),
        pytest.param(
            "schedule: '*/20 1 * * *'",
            "America/New_York",
            "2026-11-01T00:30-04:00",
            ["01:00-04:00", "01:20-04:00", "01:40-04:00", "01:00-05:00"],  # the last one is the next day's
            id="a fixed hour with a minute step runs once",
        ),
        pytest.param(
            "schedule: '*/30 * * * *'",
            "America/New_York",
            "2026-03-08T01:15-05:00",
            ["01:30-05:00", "03:00-04:00", "03:30-04:00"],
            id="spring: the skipped hour's times collapse into 03:00",
        ),
        pytest.param(
            "schedule: '*/30 * * * *'",
            "Europe/Berlin",
            "2026-10-25T02:40+02:00",
            ["02:00+01:00", "02:30+01:00", "03:00+01:00"],
            id="from the first pass, the second pass comes next",
        ),
    ],
)
def test_runs_around_a_change(form, zone, after, expected, registry):
    text = f"timezone: {zone}\ngroups:\n  g:\n    tasks:\n      - collector: pinger\n        {form}\n"
    (entry,) = parse_schedule_text(text, registry).entries
    tz, moment, found = ZoneInfo(zone), datetime.fromisoformat(after), []
    for _ in expected:
        moment = next_run(entry, moment, tz)
        found.append(moment.strftime("%H:%M%z")[:-2] + ":" + moment.strftime("%z")[-2:])
    assert found == expected
