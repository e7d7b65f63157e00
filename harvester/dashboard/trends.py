"""Trends of one collector for its page: the latest runs by duration and outcome, and the share
of runs that succeeded on each of the last days. Geometry only (numbers for an inline SVG the
template draws); the numbers come from two bounded reads of :mod:`harvester.history.stats`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from harvester.history.stats import DayOutcomes, daily_outcomes, recent_runs, success_share
from harvester.history.store import Store

#: Runs in the duration chart, and days in the success chart.
RUNS = 50
DAYS = 30
#: Chart heights in SVG units (a bar never gets thinner than MIN_BAR, so a fast run stays visible).
HEIGHT = 60
MIN_BAR = 2


@dataclass(frozen=True)
class RunBar:
    run: dict[str, Any]
    height: float


@dataclass(frozen=True)
class DayBar:
    day: date
    outcomes: DayOutcomes | None
    height: float  # success rate x HEIGHT; 0 for a day without a verdict


@dataclass(frozen=True)
class Trends:
    runs: list[RunBar]
    slowest: float | None  # seconds: the top of the duration chart
    days: list[DayBar]
    succeeded: int
    failed: int

    @property
    def success_rate(self) -> float | None:
        return success_share(self.succeeded, self.failed)


def build_trends(store: Store, collector: str, now: datetime) -> Trends:
    latest = recent_runs(store, [collector], RUNS).get(collector, [])
    durations = [r["duration"] for r in latest if r["duration"] is not None]
    slowest = max(durations) if durations else None
    bars = [RunBar(r, _scaled(r["duration"], slowest)) for r in latest]
    first = (now - timedelta(days=DAYS - 1)).date()
    start = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
    found = {d.day: d for d in daily_outcomes(store, collector, start)}
    days = []
    for n in range(DAYS):
        day = first + timedelta(days=n)
        outcome = found.get(day)
        rate = outcome.success_rate if outcome else None
        days.append(DayBar(day, outcome, 0.0 if rate is None else max(MIN_BAR, rate * HEIGHT)))
    return Trends(
        bars,
        slowest,
        days,
        sum(d.succeeded for d in found.values()),
        sum(d.failed for d in found.values()),
    )


def _scaled(seconds: float | None, slowest: float | None) -> float:
    if seconds is None or not slowest:
        return float(MIN_BAR)
    return max(MIN_BAR, seconds / slowest * HEIGHT)
