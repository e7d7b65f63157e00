"""The schedule as the API shows it: each enabled entry with a stable name, next run and freshness."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from harvester.app import Harvester
from harvester.errors import ConfigError
from harvester.schedule.entries import Schedule, ScheduleEntry, format_duration
from harvester.schedule.freshness import Freshness, freshness
from harvester.schedule.loader import load_schedule
from harvester.schedule.timing import next_run


@dataclass(frozen=True)
class LoadedSchedule:
    """The schedule file, read without strictness; ``error`` is ``missing`` or ``unreadable`` when
    there is nothing to show."""

    schedule: Schedule | None
    error: str | None = None


def read_schedule(hv: Harvester) -> LoadedSchedule:
    path = hv.settings.schedule_file
    if not path.exists():
        return LoadedSchedule(None, "missing")
    try:
        return LoadedSchedule(load_schedule(path, hv.registry, strict=False))
    except ConfigError:
        return LoadedSchedule(None, "unreadable")


def entry_name(entry: ScheduleEntry, repeated: bool) -> str:
    """``group/collector``, with ``@line`` when the group schedules that collector more than once."""
    base = f"{entry.group}/{entry.collector}"
    return f"{base}@{entry.line}" if repeated else base


@dataclass(frozen=True)
class EntryView:
    name: str
    fresh: Freshness
    next_run: datetime

    def as_dict(self) -> dict[str, object]:
        entry = self.fresh.entry
        return {
            "name": self.name,
            "group": entry.group,
            "line": entry.line,
            "schedule": entry.schedule_text,
            "params": entry.params,
            "next_run": self.next_run,
            "freshness": format_duration(entry.freshness),
            "status": self.fresh.status,
            "stale": self.fresh.stale,
            "last_success_at": self.fresh.last_success_at,
        }


def entry_views(hv: Harvester, schedule: Schedule, now: datetime) -> list[EntryView]:
    """Every enabled entry in file order (one history query for all of them)."""
    counts = Counter((e.group, e.collector) for e in schedule.enabled)
    return [
        EntryView(
            entry_name(f.entry, counts[f.entry.group, f.entry.collector] > 1),
            f,
            next_run(f.entry, now, schedule.timezone),
        )
        for f in freshness(schedule.entries, hv.store.last_successes(), hv.registry, now)
    ]
