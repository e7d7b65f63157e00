"""CronExpr: a 5-field cron expression (minute hour day-of-month month day-of-week) as sets of values.

Supports ``*``, lists (``1,15``), ranges (``9-17``), steps (``*/15``, ``0-30/10``, ``5/20``) and
names (``jan``..``dec``, ``sun``..``sat``; weekday ``7`` is Sunday too). As in Vixie cron, when both
day fields are restricted (neither starts with ``*``) a day matches if *either* matches.
``every_hour``: the hour field is a wildcard or a step (``*``, ``*/2``, ``8-18/2``), so the
expression runs in both passes of a repeated (fall-back) hour, as in cronie.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_LONGEST_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day of month", 1, 31, {}),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 0, 7, _WEEKDAYS),
)


@dataclass(frozen=True)
class CronExpr:
    """A parsed cron expression; ``weekdays`` counts 0 = Sunday .. 6 = Saturday."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool
    every_hour: bool = False

    @classmethod
    def parse(cls, text: str) -> CronExpr:
        """Parse ``text``; a ``ValueError`` says which field is wrong and why."""
        parts = text.split()
        if len(parts) != len(_FIELDS):
            raise ValueError(f"a cron expression has 5 fields (minute hour day month weekday), got {len(parts)}")
        values = [_parse_field(part, spec) for part, spec in zip(parts, _FIELDS, strict=True)]
        expr = cls(
            text=" ".join(parts),
            minutes=tuple(sorted(values[0])),
            hours=tuple(sorted(values[1])),
            days=frozenset(values[2]),
            months=frozenset(values[3]),
            weekdays=frozenset(d % 7 for d in values[4]),
            any_day=parts[2].startswith("*"),
            any_weekday=parts[4].startswith("*"),
            every_hour=any(item.startswith("*") or "/" in item for item in parts[1].split(",")),
        )
        expr._check_possible()
        return expr

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_day = day.day in self.days
        by_weekday = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday

    def _check_possible(self) -> None:
        if not self.any_weekday and not self.any_day:
            return  # either day field may match
        if not any(day <= _LONGEST_MONTH[month] for month in self.months for day in self.days):
            raise ValueError("never matches: no listed month has the listed day")


def _parse_field(text: str, spec: _Field) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, spec))
    return values


def _parse_item(item: str, spec: _Field) -> range:
    span, slash, step_text = item.partition("/")
    step = _number(step_text, spec, "step", low=1) if slash else 1
    if span == "*":
        low, high = spec.low, spec.high
    elif "-" in span:
        first, _, last = span.partition("-")
        low, high = _value(first, spec), _value(last, spec)
        if low > high:
            raise ValueError(f"{spec.name} range {span} runs backwards")
    else:
        low = _value(span, spec)
        high = spec.high if slash else low
    return range(low, high + 1, step)


def _value(text: str, spec: _Field) -> int:
    named = spec.names.get(text.lower())
    if named is not None:
        return named
    return _number(text, spec, "value", low=spec.low, high=spec.high)


def _number(text: str, spec: _Field, what: str, *, low: int, high: int | None = None) -> int:
    if not text.isdigit():
        raise ValueError(f"bad {spec.name} {what} '{text}'")
    number = int(text)
    top = spec.high if high is None else high
    if not low <= number <= top:
        raise ValueError(f"{spec.name} {what} {number} is out of range {low}-{top}")
    return number
