"""The schedule entry view that ``harvester list``, the API and the dashboard share: each enabled entry of
the schedule file with its name, schedule, next run and freshness, and per registered collector its
entries, last run and last success.

:func:`read_schedule_file` reads the file; :func:`entry_views` and :func:`schedule_overview` are pure
(the schedule, history and time come in). ``Harvester.schedule_overview`` puts the three together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from harvester.collector import Collector
from harvester.errors import ConfigError
from harvester.registry import Registry
from harvester.schedule.entries import Schedule, ScheduleEntry, ScheduleProblem, format_duration
from harvester.schedule.freshness import Freshness, Status, freshness
from harvester.schedule.loader import load_schedule
from harvester.schedule.timing import next_run


@dataclass(frozen=True)
class ScheduleFile:
    """The schedule file read without strictness (bad entries left out, listed in ``problems``).
    ``schedule`` is None when the file is ``missing`` or cannot be read (``error`` says why)."""

    schedule: Schedule | None
    missing: bool = False
    error: str | None = None

    @property
    def problems(self) -> tuple[ScheduleProblem, ...]:
        return self.schedule.problems if self.schedule is not None else ()


def read_schedule_file(path: Path, registry: Registry) -> ScheduleFile:
    if not path.exists():
        return ScheduleFile(None, missing=True)
    try:
        return ScheduleFile(load_schedule(path, registry, strict=False))
    except ConfigError as exc:
        return ScheduleFile(None, error=str(exc))


def entry_name(entry: ScheduleEntry, repeated: bool) -> str:
    """``group/collector``, with ``@line`` when the group schedules that collector more than once."""
    base = f"{entry.group}/{entry.collector}"
    return f"{base}@{entry.line}" if repeated else base


@dataclass(frozen=True)
class EntryView:
    """One enabled schedule entry: its stable ``name``, freshness and next run."""

    name: str
    fresh: Freshness
    next_run: datetime
    params: dict[str, Any]  # the entry's params, secret values masked (references shown)

    @property
    def entry(self) -> ScheduleEntry:
        return self.fresh.entry

    @property
    def collector(self) -> str:
        return self.entry.collector

    @property
    def group(self) -> str:
        return self.entry.group

    @property
    def line(self) -> int:
        return self.entry.line

    @property
    def schedule(self) -> str:
        """The schedule as text: ``daily at 02:30``, ``every 15m``."""
        return self.entry.schedule_text

    @property
    def status(self) -> Status:
        return self.fresh.status

    def as_dict(self) -> dict[str, Any]:
        """The entry as ``harvester list --json`` and ``GET /api/v1/collectors`` show it."""
        entry = self.entry
        return {
            "name": self.name,
            "group": entry.group,
            "line": entry.line,
            "params": self.params,
            "schedule": entry.schedule_text,
            "next_run": self.next_run,
            "freshness": format_duration(entry.freshness),
            "status": self.fresh.status,
            "stale": self.fresh.stale,
            "last_success_at": self.fresh.last_success_at,
        }


def entry_views(
    schedule: Schedule, registry: Registry, last_successes: Mapping[tuple[str, str], datetime], now: datetime
) -> list[EntryView]:
    """Every enabled entry in file order; ``last_successes`` is ``Store.last_successes()``."""
    counts = Counter((e.group, e.collector) for e in schedule.enabled)
    return [
        EntryView(
            entry_name(f.entry, counts[f.entry.group, f.entry.collector] > 1),
            f,
            next_run(f.entry, now, schedule.timezone),
            registry.get(f.entry.collector).masked_params(f.entry.params),
        )
        for f in freshness(schedule.entries, last_successes, registry, now)
    ]


@dataclass(frozen=True)
class CollectorView:
    """A registered collector with its enabled entries (file order), newest run and newest success
    (of any params, scheduled or not)."""

    cls: type[Collector]
    entries: tuple[EntryView, ...]
    last_run: dict[str, Any] | None
    last_success_at: datetime | None

    @property
    def name(self) -> str:
        return self.cls.name


@dataclass(frozen=True)
class ScheduleOverview:
    file: ScheduleFile
    entries: tuple[EntryView, ...]
    collectors: tuple[CollectorView, ...]
    """Every registered collector, in registry order."""


def schedule_overview(
    file: ScheduleFile,
    registry: Registry,
    last_successes: Mapping[tuple[str, str], datetime],
    last_runs: Mapping[str, dict[str, Any]],
    now: datetime,
) -> ScheduleOverview:
    """``last_successes`` and ``last_runs`` are ``Store.last_successes()`` and ``Store.last_runs()``."""
    views = entry_views(file.schedule, registry, last_successes, now) if file.schedule is not None else []
    newest: dict[str, datetime] = {}
    for (collector, _key), moment in last_successes.items():
        newest[collector] = max(moment, newest.get(collector, moment))
    collectors = tuple(
        CollectorView(
            cls,
            tuple(v for v in views if v.collector == cls.name),
            last_runs.get(cls.name),
            newest.get(cls.name),
        )
        for cls in registry
    )
    return ScheduleOverview(file, tuple(views), collectors)
