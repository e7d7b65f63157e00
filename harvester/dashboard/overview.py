"""The collectors overview as plain data: one row per registered collector with its schedule entries,
next run, freshness, last run, 24-hour figures and latest runs. Time comes in as ``now``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from harvester.app import Harvester
from harvester.collector import Collector
from harvester.history.stats import CollectorStats, Usage, collector_stats, recent_runs, usage_of
from harvester.schedule.entries import ScheduleProblem
from harvester.schedule.groups import GroupView
from harvester.schedule.overview import EntryView

#: How many latest runs the overview's bar shows per collector.
RECENT_RUNS = 20
#: The window of the success rate and median duration.
STATS_WINDOW = timedelta(hours=24)
#: Worst first: the badge a collector with several entries shows.
_SEVERITY = {"stale": 0, "never run": 1, "fresh": 2}


@dataclass(frozen=True)
class CollectorRow:
    name: str
    description: str
    required_params: list[str]
    entries: tuple[EntryView, ...]
    last_run: dict[str, Any] | None
    last_success_at: datetime | None
    stats: CollectorStats | None
    recent: list[dict[str, Any]]

    @property
    def usage(self) -> Usage:
        """Typical CPU and memory: medians over its recent runs (``recent``) that report them."""
        return usage_of(self.recent)

    @property
    def triggerable(self) -> bool:
        """The dashboard's button sends no params, so only a collector that needs none has one."""
        return not self.required_params

    @property
    def next_run(self) -> datetime | None:
        return min((e.next_run for e in self.entries), default=None)

    @property
    def freshness(self) -> str | None:
        """The worst freshness of its entries; None when it is not scheduled."""
        statuses = [e.status for e in self.entries]
        return min(statuses, key=_SEVERITY.__getitem__) if statuses else None


@dataclass(frozen=True)
class Overview:
    collectors: list[CollectorRow]
    problems: list[ScheduleProblem] = field(default_factory=list)
    schedule_error: str | None = None
    #: The schedule file's time zone (``Europe/Berlin``): schedule times are shown in it, named.
    timezone: str | None = None
    #: Each group of the schedule file with its last batch (``_groups.html``).
    groups: tuple[GroupView, ...] = ()

    @property
    def finished_24h(self) -> int:
        return sum(c.stats.finished for c in self.collectors if c.stats)

    @property
    def success_rate_24h(self) -> float | None:
        succeeded = sum(c.stats.succeeded for c in self.collectors if c.stats)
        return succeeded / self.finished_24h if self.finished_24h else None

    @property
    def attention(self) -> list[str]:
        """Collectors with a stale entry or whose last run failed."""
        return [
            c.name
            for c in self.collectors
            if c.freshness == "stale" or (c.last_run is not None and c.last_run["status"] == "failed")
        ]


def required_params(cls: type[Collector]) -> list[str]:
    return [name for name, info in cls.Params.model_fields.items() if info.is_required()]


def build_overview(hv: Harvester, now: datetime) -> Overview:
    schedule = hv.schedule_overview(now)
    stats = collector_stats(hv.store, now - STATS_WINDOW)
    recent = recent_runs(hv.store, [cls.name for cls in hv.registry], RECENT_RUNS)
    rows = [
        CollectorRow(
            name=c.name,
            description=c.cls.description,
            required_params=required_params(c.cls),
            entries=c.entries,
            last_run=c.last_run,
            last_success_at=c.last_success_at,
            stats=stats.get(c.name),
            recent=recent.get(c.name, []),
        )
        for c in schedule.collectors
    ]
    loaded = schedule.file.schedule
    zone = loaded.timezone.key if loaded is not None else None
    return Overview(rows, list(schedule.file.problems), schedule.file.error, zone, schedule.groups)
