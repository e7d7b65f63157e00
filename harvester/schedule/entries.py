"""ScheduleEntry and Schedule: the schedule file as frozen values, and the parsing of its scalar values.

Every ``parse_*`` function takes what the YAML file holds and returns a value or raises
``ValueError`` with a message fit for ``schedule.yaml:LINE: message``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from harvester.collector import OverlapPolicy
from harvester.errors import ConfigError
from harvester.schedule.cron import CronExpr

Kind = Literal["hourly", "daily", "weekly", "monthly", "interval", "cron"]

KEYWORDS: tuple[str, ...] = ("hourly", "daily", "weekly", "monthly", "interval")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WALL_CLOCK_KINDS = frozenset({"daily", "weekly", "monthly"})
MAX_INTERVAL_MINUTES = 1440

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(?:\d+[smhdw])+")
_EVERY = re.compile(r"every\s+(\d+)\s*([smhd])")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_PREDICATE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
_SCHEDULE_FORMS = "hourly, daily, weekly, monthly, interval, every <N>s|m|h|d or a 5-field cron expression"


@dataclass(frozen=True)
class ScheduleSpec:
    """When an entry runs, apart from its time of day. Exactly one of the optional fields is set per kind:
    ``every`` (interval), ``weekday`` (weekly; 0 = Monday), ``monthday`` (monthly; 1..31), ``cron`` (cron)."""

    kind: Kind
    every: timedelta | None = None
    weekday: int | None = None
    monthday: int | None = None
    cron: CronExpr | None = None

    def describe(self, at: time | None = None) -> str:
        """``daily at 02:30``, ``weekly on monday at 00:05``, ``every 15m``, ``cron */5 * * * *``."""
        clock = f" at {at:%H:%M}" if at is not None else ""
        if self.kind == "weekly" and self.weekday is not None:
            return f"weekly on {WEEKDAYS[self.weekday]}{clock}"
        if self.kind == "monthly":
            return f"monthly on day {self.monthday}{clock}"
        if self.every is not None:
            return f"every {format_duration(self.every)}"
        if self.cron is not None:
            return f"cron {self.cron.text}"
        return f"{self.kind}{clock}"


@dataclass(frozen=True)
class ScheduleEntry:
    """One task of a group.

    - ``group``, ``index``: the group and the position in its ``tasks`` list (batches run in this order).
    - ``collector``, ``params``: what runs; ``params`` as written (or parsed from ``args``), validated.
    - ``spec``, ``at``: when; ``at`` is the wall-clock time of daily/weekly/monthly entries, else None.
    - ``enabled``: disabled entries are loaded and checked but never dispatched.
    - ``when``: ``package.module:function`` predicate checked at the due time, or None.
    - ``freshness``: how old the last success may be before the entry is stale (given or derived).
    - ``queue``, ``overlap``: overrides of the collector's own; None means the collector's.
    - ``line``: line of the task in the schedule file.
    - ``alerts``: the alert targets of this entry's incidents (the task's ``alerts:``, else its group's);
      None: the default targets (``HARVESTER_ALERT_DEFAULT_TARGETS``); empty: no alerts.
    - ``expires``: how long after beat records an occurrence its runs may still start; a run not
      started by then is recorded ``expired`` and never runs. None: never expires.
    - ``check``: how often a worker probes the entry's collector with its params (``check: every 15m``,
      in the task or its group); None: never.
    """

    group: str
    index: int
    collector: str
    spec: ScheduleSpec
    at: time | None
    enabled: bool
    params: dict[str, Any]
    when: str | None
    freshness: timedelta
    queue: str | None
    overlap: OverlapPolicy | None
    line: int
    expires: timedelta | None = None
    check: timedelta | None = None
    alerts: tuple[str, ...] | None = None

    @property
    def schedule_text(self) -> str:
        return self.spec.describe(self.at)


@dataclass(frozen=True)
class ScheduleProblem:
    """One problem of a schedule file, printed as ``FILE:LINE: message``."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ScheduleError(ConfigError):
    """The schedule file has problems (strict mode); the message lists each as ``FILE:LINE: message``."""

    def __init__(self, problems: tuple[ScheduleProblem, ...] | list[ScheduleProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class Schedule:
    """A loaded schedule file: the valid entries in file order, and the problems of the rest."""

    timezone: ZoneInfo
    entries: tuple[ScheduleEntry, ...] = ()
    problems: tuple[ScheduleProblem, ...] = field(default=())

    @property
    def enabled(self) -> tuple[ScheduleEntry, ...]:
        return tuple(entry for entry in self.entries if entry.enabled)


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_schedule(text: str) -> ScheduleSpec:
    """``daily``, ``every 15m``, ``*/5 * * * *`` ... -> ScheduleSpec (weekday/monthday/every filled in later)."""
    words = text.strip().lower()
    if words in KEYWORDS:
        return ScheduleSpec(kind=words)  # type: ignore[arg-type]
    if words.startswith(("on_", "on ", "when")):
        raise ValueError(
            f"bad schedule '{text}': a condition is not a schedule; check it on a schedule and run only when it "
            f"holds: `schedule: daily` (or hourly, ...) with `when: yourpackage.checks:{_identifier(words)}`, "
            "a function that returns true when the entry should run"
        )
    if words.startswith("every"):
        return ScheduleSpec(kind="interval", every=_parse_every(text))
    if len(words.split()) == 5:
        try:
            return ScheduleSpec(kind="cron", cron=CronExpr.parse(words))
        except ValueError as exc:
            raise ValueError(f"bad cron expression '{text}': {exc}") from None
    if len(words.split()) > 1:
        raise ValueError(f"bad schedule '{text}': a cron expression has 5 fields, got {len(words.split())}")
    raise ValueError(f"bad schedule '{text}'{did_you_mean(words, KEYWORDS)}: expected {_SCHEDULE_FORMS}")


def _identifier(words: str) -> str:
    name = re.sub(r"\W+", "_", words).strip("_")
    return name if name and not name[0].isdigit() else "should_run"


def _parse_every(text: str) -> timedelta:
    match = _EVERY.fullmatch(text.strip().lower())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"bad interval '{text}': expected every <N>s, <N>m, <N>h or <N>d with N >= 1")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def parse_time(text: str, key: str) -> time:
    """``"02:30"`` -> time(2, 30)."""
    match = _TIME.fullmatch(text.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"bad time '{text}' for `{key}`: expected HH:MM (00:00 to 23:59)")
    return time(int(match[1]), int(match[2]))


def parse_weekday(value: object, key: str = "on") -> int:
    """``monday`` / ``Mon`` -> 0 (names only: a number would be ambiguous, 0 is Sunday in cron)."""
    text = str(value).strip().lower()
    for number, name in enumerate(WEEKDAYS):
        if text in (name, name[:3]):
            return number
    raise ValueError(
        f"bad `{key}` '{value}' for a weekly schedule: expected a weekday by name (monday..sunday or mon..sun)"
    )


def parse_monthday(value: object, key: str = "on") -> int:
    """``1``..``31``, also quoted (``'15'``); a day past a month's end means that month's last day."""
    number = _whole_number(value)
    if number is None or not 1 <= number <= 31:
        raise ValueError(f"bad `{key}` '{value}' for a monthly schedule: expected a day of the month, 1..31")
    return number


def parse_minutes(value: object, key: str = "minutes") -> timedelta:
    """``minutes`` of ``schedule: interval``: 1..1440, also quoted."""
    number = _whole_number(value)
    if number is None or not 1 <= number <= MAX_INTERVAL_MINUTES:
        raise ValueError(f"bad `{key}` '{value}': expected a whole number of minutes, 1..{MAX_INTERVAL_MINUTES}")
    return timedelta(minutes=number)


def _whole_number(value: object) -> int | None:
    """An int as YAML gives it (``15``) or as people quote it (``'15'``); None for anything else."""
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def parse_duration(text: str, key: str = "freshness") -> timedelta:
    """``45m``, ``26h``, ``2d``, ``1d12h`` -> timedelta (units s, m, h, d, w)."""
    compact = str(text).replace(" ", "").lower()
    if not _DURATION.fullmatch(compact):
        raise ValueError(f"bad `{key}` '{text}': expected a duration like 45m, 26h or 2d")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in re.findall(r"(\d+)([smhdw])", compact))
    if seconds == 0:
        raise ValueError(f"bad `{key}` '{text}': must be longer than zero")
    return timedelta(seconds=seconds)


def parse_check(text: str) -> timedelta:
    """``check: every 15m`` (or ``15m``) -> timedelta: how often the entry's collector is probed."""
    words = str(text).strip().lower()
    try:
        return parse_duration(words.removeprefix("every").strip(), "check")
    except ValueError:
        raise ValueError(f"bad `check` '{text}': expected an interval like `every 15m`, `every 1h` or `30m`") from None


def parse_expires(text: str) -> timedelta:
    """``expires: 10m`` -> timedelta; ``never`` or ``0`` -> ``timedelta(0)``: the run never expires."""
    words = str(text).strip().lower()
    if words in ("never", "0"):
        return timedelta(0)
    try:
        return parse_duration(words, "expires")
    except ValueError:
        raise ValueError(
            f"bad `expires` '{text}': expected a duration like 30s, 10m or 2h, or `never` (or 0) to disable"
        ) from None


def parse_alerts(value: object) -> tuple[str, ...]:
    """``alerts: ops``, ``alerts: [ops, mail]``, ``alerts: []`` or ``alerts: none`` -> target names."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(name, str) and name.strip() for name in names):
        raise ValueError(f"bad `alerts` {value!r}: expected a target name or a list of them (`[]` or none: no alerts)")
    stripped = tuple(dict.fromkeys(name.strip() for name in names))
    return () if stripped == ("none",) else stripped


def expiry_seconds(value: str | float | None) -> float | None:
    """A triggered run's expiry: seconds (a number or ``"90"``), a duration (``10m``) or ``never``
    (or 0) -> seconds, or None for never."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"bad expiry {value!r}: expected seconds, a duration like 10m, or never")
    try:
        seconds = float(value)
    except ValueError:
        seconds = parse_expires(str(value)).total_seconds()
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"bad expiry {value!r}: expected a number of seconds >= 0, a duration like 10m, or never")
    return seconds or None


def format_duration(value: timedelta) -> str:
    """timedelta -> ``26h``, ``45m``, ``7d2h``, ``90s`` (the inverse of :func:`parse_duration`)."""
    seconds = int(value.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days >= 2 or (days and hours == minutes == seconds == 0):
        parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    else:
        parts = [(days * 24 + hours, "h"), (minutes, "m"), (seconds, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def parse_predicate(text: str) -> str:
    """``package.module:function`` (checked for form only; imported at the due time)."""
    if not _PREDICATE.fullmatch(text.strip()):
        raise ValueError(f"bad `when` '{text}': expected package.module:function")
    return text.strip()


def parse_overlap(text: str) -> OverlapPolicy:
    if text == "skip":
        return "skip"
    if text == "queue":
        return "queue"
    raise ValueError(f"bad `overlap` '{text}': expected skip or queue")
