"""When entries run: pure functions of the time passed in (nothing here reads the clock).

- ``daily``/``weekly``/``monthly`` and cron expressions follow the wall clock of the schedule's time
  zone. A wall time that does not exist (the spring-forward gap) runs at the first valid wall time
  after the gap (02:30 -> 03:00 in Europe/Berlin); a wall time that happens twice (fall-back) runs
  on its first pass only. So a daily entry runs exactly once on both days.
- ``hourly`` runs at minute 0 of every local hour, both passes of a repeated hour included.
- intervals (``every 15m``, ``interval`` + ``minutes``) count elapsed time from the Unix epoch
  (00:00 UTC), unaffected by DST: ``every 15m`` runs at :00, :15, :30 and :45.
- a ``monthly`` day past the month's end runs on the month's last day.
- derived freshness: 3 x the period below one hour, period + 1 h below one day, period + 2 h from one
  day up (daily -> 26h, hourly -> 2h, every 15m -> 45m, weekly -> 7d2h, monthly -> 31d2h).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from harvester.schedule.entries import ScheduleEntry, ScheduleSpec

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_QUARTER = timedelta(minutes=15)  # every UTC offset in use is a multiple of 15 minutes
_CRON_HORIZON_DAYS = 366 * 9  # 29 February can be 8 years away (2096 -> 2104)


def next_run(entry: ScheduleEntry, after: datetime, tz: tzinfo) -> datetime:
    """The first occurrence strictly after ``after`` (aware), as an aware datetime in ``tz``."""
    return next_occurrence(entry.spec, entry.at, after, tz)


def next_runs(entry: ScheduleEntry, after: datetime, tz: tzinfo, n: int) -> list[datetime]:
    """The next ``n`` occurrences after ``after``."""
    runs: list[datetime] = []
    for _ in range(n):
        after = next_run(entry, after, tz)
        runs.append(after)
    return runs


def due(entry: ScheduleEntry, last_checked: datetime, now: datetime, tz: tzinfo) -> datetime | None:
    """The latest occurrence in ``(last_checked, now]``, or None. After downtime a missed entry runs once."""
    if entry.spec.every is not None:
        latest = _interval_floor(now, entry.spec.every)
        return latest.astimezone(tz) if latest > last_checked else None
    found = None
    occurrence = next_run(entry, last_checked, tz)
    while occurrence <= now:
        found = occurrence
        occurrence = next_run(entry, occurrence, tz)
    return found


def next_occurrence(spec: ScheduleSpec, at: time | None, after: datetime, tz: tzinfo) -> datetime:
    """:func:`next_run` for a spec and time of day (``at`` defaults to 00:00)."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("`after` must be an aware datetime")
    if spec.every is not None:
        return (_interval_floor(after, spec.every) + spec.every).astimezone(tz)
    if spec.kind == "hourly":
        return _next_hour(after, tz)
    if spec.cron is not None:
        return _first_after(after, tz, _cron_walls(spec, after.astimezone(tz).date()))
    return _first_after(after, tz, _calendar_walls(spec, at or time(0), after.astimezone(tz).date()))


def resolve(wall: datetime, tz: tzinfo) -> datetime:
    """Wall time (naive) -> the instant it names in ``tz``: a gap moves to its end, a repeat takes its first pass."""
    first = wall.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant.astimezone(tz)
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)  # the gap: find the transition between these
    low, high = min(low, instant), max(low, instant)
    after = high.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0).astimezone(tz)


def derived_freshness(spec: ScheduleSpec) -> timedelta:
    """How old the last success may be before the entry is stale (see the module docstring)."""
    period = period_of(spec)
    if period < HOUR:
        return 3 * period
    if period < DAY:
        return period + HOUR
    return period + 2 * HOUR


def period_of(spec: ScheduleSpec) -> timedelta:
    """The longest gap between two occurrences (cron: measured over its first 50 occurrences in UTC)."""
    fixed = {"hourly": HOUR, "daily": DAY, "weekly": 7 * DAY, "monthly": 31 * DAY}
    if spec.every is not None:
        return spec.every
    if spec.kind in fixed:
        return fixed[spec.kind]
    runs = [datetime(2001, 1, 1, tzinfo=UTC)]
    for _ in range(50):
        runs.append(next_occurrence(spec, None, runs[-1], UTC))
    return max(later - earlier for earlier, later in zip(runs[1:], runs[2:], strict=False))


def _interval_floor(moment: datetime, every: timedelta) -> datetime:
    """The latest multiple of ``every`` since the epoch that is <= ``moment``."""
    return EPOCH + ((moment - EPOCH) // every) * every


def _next_hour(after: datetime, tz: tzinfo) -> datetime:
    candidate = _interval_floor(after, _QUARTER)
    while True:
        candidate += _QUARTER
        local = candidate.astimezone(tz)
        if local.minute == 0 and local.second == 0:
            return local


def _first_after(after: datetime, tz: tzinfo, walls: Iterator[datetime]) -> datetime:
    """The first wall time whose instant is after ``after`` (instants rise with wall time, so the earliest)."""
    for wall in walls:
        instant = resolve(wall, tz)
        if instant > after:
            return instant
    raise ValueError("no occurrence found")  # unreachable for a spec the parser accepted


def _calendar_walls(spec: ScheduleSpec, at: time, start: date) -> Iterator[datetime]:
    matches: Callable[[date], bool] = lambda _day: True  # noqa: E731
    if spec.kind == "weekly":
        matches = lambda day: day.weekday() == spec.weekday  # noqa: E731
    elif spec.kind == "monthly":
        matches = lambda day: day.day == _clamped_day(spec.monthday or 1, day)  # noqa: E731
    day = start - DAY
    for _ in range(64):
        if matches(day):
            yield datetime.combine(day, at)
        day += DAY


def _clamped_day(monthday: int, day: date) -> int:
    return min(monthday, calendar.monthrange(day.year, day.month)[1])


def _cron_walls(spec: ScheduleSpec, start: date) -> Iterator[datetime]:
    cron = spec.cron
    assert cron is not None
    day = start - DAY
    for _ in range(_CRON_HORIZON_DAYS):
        if cron.matches_day(day):
            for hour in cron.hours:
                for minute in cron.minutes:
                    yield datetime.combine(day, time(hour, minute))
        day += DAY
