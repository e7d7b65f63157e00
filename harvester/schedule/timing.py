"""When entries run: pure functions of the time passed in (nothing here reads the clock).

- ``daily``/``weekly``/``monthly`` and cron expressions follow the wall clock of the schedule's time
  zone. A wall time that does not exist (the spring-forward gap) runs at the first valid wall time
  after the gap (02:30 -> 03:00 in Europe/Berlin).
- A wall time that happens twice (fall-back) follows cronie's rule: a job with a fixed hour
  (``daily``, ``weekly``, ``monthly``, a cron expression whose hour field is a number, list or
  range) runs once, in the first pass; a job whose hour field is a wildcard or a step (``*/30 * *
  * *``, ``0 */2 * * *``) runs in both passes, like ``hourly`` and intervals. So a daily entry runs
  exactly once on both days, and no every-N-minutes job leaves a gap longer than its period.
- ``hourly`` runs at minute 0 of every local hour, both passes of a repeated hour included.
- intervals (``every 15m``, ``interval`` + ``minutes``) count elapsed time from the Unix epoch
  (00:00 UTC), unaffected by DST: ``every 15m`` runs at :00, :15, :30 and :45.
- a ``monthly`` day past the month's end runs on the month's last day.
- derived freshness: 3 x the period below one hour, period + 1 h below one day, period + 2 h from one
  day up (daily -> 26h, hourly -> 2h, every 15m -> 45m, weekly -> 7d2h, monthly -> 31d2h); the
  period of a cron expression is its longest gap (``0 9 * * mon-fri``: Friday to Monday, 3 days).
- derived expiry: the period, at most one hour (every 3s -> 3s, hourly -> 1h, daily -> 1h).
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from harvester.schedule.cron import CronExpr
from harvester.schedule.entries import ScheduleEntry, ScheduleSpec

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
#: The longest default ``expires`` of an entry (a daily entry's run that has not started within an
#: hour of its occurrence is recorded expired); ``expires:`` in the entry sets another, or ``never``.
EXPIRY_CAP = timedelta(hours=1)
_QUARTER = timedelta(minutes=15)  # every UTC offset in use is a multiple of 15 minutes
_LONGEST_FOLD = timedelta(hours=2)  # a fall-back repeats at most this much wall time
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
    while occurrence.astimezone(UTC) <= now.astimezone(UTC):
        found = occurrence
        occurrence = next_run(entry, occurrence, tz)
    return found


def runs_on(entry: ScheduleEntry, day: date) -> bool:
    """Whether the entry has an occurrence on ``day`` (a wall-clock date of the schedule's time zone):
    hourly, interval and daily entries every day, weekly and monthly ones on their day, cron on a
    matching day. What ``run-scheduled`` runs by default."""
    if entry.spec.cron is not None:
        return entry.spec.cron.matches_day(day)
    return _matches(entry.spec, day)


def next_occurrence(spec: ScheduleSpec, at: time | None, after: datetime, tz: tzinfo) -> datetime:
    """:func:`next_run` for a spec and time of day (``at`` defaults to 00:00)."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("`after` must be an aware datetime")
    # In UTC: aware datetimes sharing a tzinfo compare by wall time, so both passes of 02:30 would be equal.
    after = after.astimezone(UTC)
    if spec.every is not None:
        return (_interval_floor(after, spec.every) + spec.every).astimezone(tz)
    if spec.kind == "hourly":
        return _next_hour(after, tz)
    if spec.cron is not None:
        both = spec.cron.every_hour
        # the second pass of a repeated hour comes after later wall times' first pass: look back for it
        wall = after.astimezone(tz).replace(tzinfo=None) - (_LONGEST_FOLD if both else timedelta(0))
        return _first_after(after, tz, _cron_walls(spec, wall), both_passes=both)
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


def derived_expiry(spec: ScheduleSpec) -> timedelta:
    """An entry's default ``expires``: its period, at most :data:`EXPIRY_CAP` (by then the next
    occurrence is due, so a run that has not started is not worth starting late)."""
    return min(period_of(spec), EXPIRY_CAP)


def derived_freshness(spec: ScheduleSpec) -> timedelta:
    """How old the last success may be before the entry is stale (see the module docstring)."""
    period = period_of(spec)
    if period < HOUR:
        return 3 * period
    if period < DAY:
        return period + HOUR
    return period + 2 * HOUR


def period_of(spec: ScheduleSpec) -> timedelta:
    """The longest gap between two occurrences, ignoring DST (monthly counts as 31 days)."""
    fixed = {"hourly": HOUR, "daily": DAY, "weekly": 7 * DAY, "monthly": 31 * DAY}
    if spec.every is not None:
        return spec.every
    if spec.cron is not None:
        return _cron_period(spec.cron)
    return fixed[spec.kind]


def _cron_period(cron: CronExpr) -> timedelta:
    """Largest of the gaps within a day and between the last run of a day and the first of the next one."""
    times = [hour * 60 + minute for hour in cron.hours for minute in cron.minutes]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    day, previous = date(2001, 1, 1), None
    for _ in range(_CRON_HORIZON_DAYS):
        if cron.matches_day(day):
            if previous is not None:
                gaps.append((day - previous).days * 1440 - (times[-1] - times[0]))
            previous = day
        day += DAY
    return timedelta(minutes=max(gaps, default=1440))


def _interval_floor(moment: datetime, every: timedelta) -> datetime:
    """The latest multiple of ``every`` since the epoch that is <= ``moment``."""
    return EPOCH + ((moment - EPOCH) // every) * every


def _next_hour(after: datetime, tz: tzinfo) -> datetime:
    candidate = _interval_floor(after, _QUARTER)
    for _ in range(4 * 26):
        candidate += _QUARTER
        local = candidate.astimezone(tz)
        if local.minute == 0 and local.second == 0:
            return local
    raise ValueError(f"no local hour starts within a day in {tz}")  # an offset that is not whole minutes


def _first_after(after: datetime, tz: tzinfo, walls: Iterator[datetime], *, both_passes: bool = False) -> datetime:
    """The earliest instant after ``after`` named by one of the rising wall times. A wall's first pass
    never comes before an earlier wall's, so the first one after ``after`` ends the search; with
    ``both_passes`` the second pass of an earlier repeated wall time may come before it."""
    best: datetime | None = None  # in UTC, see next_occurrence
    for wall in walls:
        first = resolve(wall, tz).astimezone(UTC)
        second = _second_pass(wall, tz) if both_passes else None
        for instant in (first, second):
            if instant is not None and instant > after and (best is None or instant < best):
                best = instant
        if first > after:
            assert best is not None
            return best.astimezone(tz)
    raise ValueError("no occurrence found")  # unreachable for a spec the parser accepted


def _second_pass(wall: datetime, tz: tzinfo) -> datetime | None:
    """The second instant (in UTC) of a wall time that happens twice (fall-back), else None."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if second != first and second.astimezone(tz).replace(tzinfo=None) == wall:
        return second
    return None


def _calendar_walls(spec: ScheduleSpec, at: time, start: date) -> Iterator[datetime]:
    day = start - DAY
    for _ in range(64):  # a weekly and a monthly entry both match within any 64 days
        if _matches(spec, day):
            yield datetime.combine(day, at)
        day += DAY


def _matches(spec: ScheduleSpec, day: date) -> bool:
    if spec.kind == "weekly":
        return day.weekday() == spec.weekday
    if spec.kind == "monthly":
        return day.day == min(spec.monthday or 1, calendar.monthrange(day.year, day.month)[1])
    return True


def _cron_walls(spec: ScheduleSpec, after: datetime) -> Iterator[datetime]:
    """Matching wall times later than ``after``'s own (an earlier wall time never names a later instant)."""
    cron = spec.cron
    assert cron is not None
    day = after.date()
    for _ in range(_CRON_HORIZON_DAYS):
        if cron.matches_day(day):
            for hour in cron.hours:
                for minute in cron.minutes:
                    wall = datetime.combine(day, time(hour, minute))
                    if wall > after:
                        yield wall
        day += DAY
