"""The schedule as the API shows it: each enabled entry with a stable name, next run and freshness
(:mod:`harvester.schedule.overview`, shared with ``harvester list`` and the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from harvester.app import Harvester
from harvester.schedule.entries import Schedule
from harvester.schedule.freshness import history_keys
from harvester.schedule.groups import group_names
from harvester.schedule.overview import EntryView, ScheduleHistory, read_schedule_file
from harvester.schedule.overview import entry_views as _entry_views


@dataclass(frozen=True)
class LoadedSchedule:
    """The schedule file, read without strictness; ``error`` is ``missing`` or ``unreadable`` when
    there is nothing to show."""

    schedule: Schedule | None
    error: str | None = None


def read_schedule(hv: Harvester) -> LoadedSchedule:
    read = read_schedule_file(hv.settings.schedule_file, hv.registry)
    if read.schedule is None:
        return LoadedSchedule(None, "missing" if read.missing else "unreadable")
    return LoadedSchedule(read.schedule)


def entry_views(hv: Harvester, schedule: Schedule, now: datetime) -> list[EntryView]:
    """Every enabled entry in file order (a few bounded history reads for all of them)."""
    history = ScheduleHistory(
        entry_successes=hv.store.entry_successes(history_keys(schedule.enabled, hv.registry)),
        last_batches=hv.store.last_batches(group_names(schedule)),
    )
    return _entry_views(schedule, hv.registry, history, now)
