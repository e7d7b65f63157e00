"""CronExpr: the five fields, names, steps and ranges; errors name the field."""

from __future__ import annotations

from datetime import date

import pytest

from harvester.schedule.cron import CronExpr


@pytest.mark.parametrize(
    ("text", "minutes", "hours"),
    [
        ("* * * * *", tuple(range(60)), tuple(range(24))),
        ("*/15 */6 * * *", (0, 15, 30, 45), (0, 6, 12, 18)),
        ("5,10-12 9-17/4 * * *", (5, 10, 11, 12), (9, 13, 17)),
        ("50/5 23 * * *", (50, 55), (23,)),
    ],
)
def test_minutes_and_hours(text, minutes, hours):
    expr = CronExpr.parse(text)
    assert (expr.minutes, expr.hours) == (minutes, hours)


@pytest.mark.parametrize(
    ("text", "day", "matches"),
    [
        ("0 0 * * mon-fri", date(2025, 1, 3), True),  # friday
        ("0 0 * * mon-fri", date(2025, 1, 4), False),  # saturday
        ("0 0 * * 0", date(2025, 1, 5), True),  # sunday as 0
        ("0 0 * * 7", date(2025, 1, 5), True),  # and as 7
        ("0 0 * * SUN", date(2025, 1, 5), True),
        ("0 0 1 * *", date(2025, 2, 1), True),
        ("0 0 1 * *", date(2025, 2, 2), False),
        ("0 0 * feb-mar *", date(2025, 4, 1), False),
        ("0 0 * Jan *", date(2025, 1, 9), True),
        ("0 0 13 * fri", date(2025, 6, 6), True),  # both restricted: a friday matches
        ("0 0 13 * fri", date(2025, 6, 13), True),
        ("0 0 13 * fri", date(2025, 6, 12), False),
        ("0 0 */10 * fri", date(2025, 7, 11), True),  # a day field starting with * counts as "any": both must match
        ("0 0 */10 * fri", date(2025, 6, 11), False),  # a wednesday
        ("0 0 */10 * fri", date(2025, 6, 6), False),
    ],
)
def test_day_matching(text, day, matches):
    assert CronExpr.parse(text).matches_day(day) is matches


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("60 * * * *", "minute value 60 is out of range 0-59"),
        ("* 24 * * *", "hour value 24 is out of range 0-23"),
        ("* * 0 * *", "day of month value 0 is out of range 1-31"),
        ("* * * 13 *", "month value 13 is out of range 1-12"),
        ("* * * * 8", "day of week value 8 is out of range 0-7"),
        ("*/0 * * * *", "minute step 0 is out of range 1-59"),
        ("5-1 * * * *", "minute range 5-1 runs backwards"),
        ("a * * * *", "bad minute value 'a'"),
        ("1,,2 * * * *", "bad minute value ''"),
        ("* * * * funday", "bad day of week value 'funday'"),
        ("0 0 30 feb *", "never matches: no listed month has the listed day"),
        ("0 0 * *", "a cron expression has 5 fields (minute hour day month weekday), got 4"),
    ],
)
def test_errors_name_the_field(text, message):
    with pytest.raises(ValueError) as caught:
        CronExpr.parse(text)
    assert str(caught.value) == message


def test_feb_30_is_fine_when_a_weekday_may_match():
    assert CronExpr.parse("0 0 30 feb mon").matches_day(date(2025, 2, 3))
