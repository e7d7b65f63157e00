"""The collectors overview as plain data: one row per registered collector with its schedule entries,
next run, freshness, last run, 24-hour figures and latest runs. Time comes in as ``now``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from harvester.app import Harvester
from harvester.collector import Collector
from harvester.errors import ConfigError
from harvester.history.stats import CollectorStats, collector_stats, recent_runs
from harvester.schedule.entries import Schedule, ScheduleProblem
from harvester.schedule.freshness import Freshness, freshness
from harvester.schedule.loader import load_schedule
from harvester.schedule.timing import next_run

#: How many latest runs the overview's bar shows per collector.
RECENT_RUNS = 20
#: The window of the success rate and median duration.
STATS_WINDOW = timedelta(hours=24)
#: Worst first: the badge a collector with several entries shows.
_SEVERITY = {"stale": 0, "never run": 1, "fresh": 2}


@dataclass(frozen=True)
class EntryRow:
    """One enabled schedule entry of a collector."""

    schedule: str
    group: str
    line: int
    next_run: datetime
    freshness: Freshness


@dataclass(frozen=True)
class CollectorRow:
    name: str
    description: str
    required_params: list[str]
    entries: list[EntryRow]
    last_run: dict[str, Any] | None
    last_success_at: datetime | None
    stats: CollectorStats | None
    recent: list[dict[str, Any]]

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
        statuses = [e.freshness.status for e in self.entries]
        return min(statuses, key=_SEVERITY.__getitem__) if statuses else None


@dataclass(frozen=True)
class Overview:
    collectors: list[CollectorRow]
    problems: list[ScheduleProblem] = field(default_factory=list)
    schedule_error: str | None = None

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


def _load(hv: Harvester) -> tuple[Schedule | None, str | None]:
    """The schedule (bad entries left out and listed), or why it cannot be read."""
    if not hv.settings.schedule_file.exists():
        return None, None
    try:
        return load_schedule(hv.settings.schedule_file, hv.registry, strict=False), None
    except ConfigError as exc:
        return None, str(exc)


def _entry_rows(
    hv: Harvester, schedule: Schedule | None, successes: dict[tuple[str, str], datetime], now: datetime
) -> dict[str, list[EntryRow]]:
    rows: dict[str, list[EntryRow]] = {}
    if schedule is None:
        return rows
    for fresh in freshness(schedule.entries, successes, hv.registry, now):
        entry = fresh.entry
        rows.setdefault(entry.collector, []).append(
            EntryRow(entry.schedule_text, entry.group, entry.line, next_run(entry, now, schedule.timezone), fresh)
        )
    return rows


def build_overview(hv: Harvester, now: datetime) -> Overview:
    schedule, error = _load(hv)
    by_key = hv.store.last_successes()
    entries = _entry_rows(hv, schedule, by_key, now)
    last = hv.store.last_runs()
    successes: dict[str, datetime] = {}
    for (collector, _key), moment in by_key.items():
        successes[collector] = max(moment, successes.get(collector, moment))
    stats = collector_stats(hv.store, now - STATS_WINDOW)
    recent = recent_runs(hv.store, [cls.name for cls in hv.registry], RECENT_RUNS)
    rows = [
        CollectorRow(
            name=cls.name,
            description=cls.description,
            required_params=required_params(cls),
            entries=entries.get(cls.name, []),
            last_run=last.get(cls.name),
            last_success_at=successes.get(cls.name),
            stats=stats.get(cls.name),
            recent=recent.get(cls.name, []),
        )
        for cls in hv.registry
    ]
    problems = list(schedule.problems) if schedule is not None else []
    return Overview(rows, problems, error)
