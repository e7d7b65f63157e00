"""The schedule entry view that ``harvester list``, the API and the dashboard share: each enabled entry of
the schedule file with its name, schedule, next run, freshness and its group's last batch, per registered
collector its entries, last run and last success, and each group's last batch.

:func:`read_schedule_file` reads the file; :func:`entry_views` and :func:`schedule_overview` are pure
(the schedule, :class:`ScheduleHistory` and time come in). ``Harvester.schedule_overview`` puts them together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harvester.collector import Collector
from harvester.errors import ConfigError
from harvester.registry import Registry
from harvester.schedule.entries import Schedule, ScheduleEntry, ScheduleProblem, format_duration
from harvester.schedule.freshness import Freshness, Status, freshness
from harvester.schedule.groups import Batch, GroupView, group_views
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
    group_last_batch: Batch | None = None  # the last batch of its group (of any of the group's entries)

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
            "group_last_batch": self.group_last_batch.as_dict() if self.group_last_batch is not None else None,
        }


@dataclass(frozen=True)
class ScheduleHistory:
    """What history says about a schedule (``Store.schedule_history()``).

    - ``entry_successes``: entry key -> its last success (runs of that entry only);
    - ``collector_successes``: collector -> its last success (any params, scheduled or not);
    - ``last_runs``: collector -> its newest run row;
    - ``last_batches``: group -> its last batch.
    """

    entry_successes: Mapping[str, datetime] = field(default_factory=dict)
    collector_successes: Mapping[str, datetime] = field(default_factory=dict)
    last_runs: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    last_batches: Mapping[str, Batch] = field(default_factory=dict)


def entry_views(schedule: Schedule, registry: Registry, history: ScheduleHistory, now: datetime) -> list[EntryView]:
    """Every enabled entry in file order."""
    counts = Counter((e.group, e.collector) for e in schedule.enabled)
    return [
        EntryView(
            entry_name(f.entry, counts[f.entry.group, f.entry.collector] > 1),
            f,
            next_run(f.entry, now, schedule.timezone),
            registry.get(f.entry.collector).masked_params(f.entry.params),
            history.last_batches.get(f.entry.group),
        )
        for f in freshness(schedule.entries, history.entry_successes, registry, now)
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
    groups: tuple[GroupView, ...] = ()
    """Each group with an enabled entry, in file order, with its last batch."""


def schedule_overview(
    file: ScheduleFile, registry: Registry, history: ScheduleHistory, now: datetime
) -> ScheduleOverview:
    views = entry_views(file.schedule, registry, history, now) if file.schedule is not None else []
    collectors = tuple(
        CollectorView(
            cls,
            tuple(v for v in views if v.collector == cls.name),
            history.last_runs.get(cls.name),
            history.collector_successes.get(cls.name),
        )
        for cls in registry
    )
    groups = group_views(file.schedule, history.last_batches) if file.schedule is not None else []
    return ScheduleOverview(file, tuple(views), collectors, tuple(groups))
