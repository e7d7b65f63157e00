"""Freshness: is each enabled entry's last success recent enough? Pure: history and time come in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from harvester.registry import Registry
from harvester.schedule.entries import ScheduleEntry

Status = Literal["fresh", "stale", "never run"]


@dataclass(frozen=True)
class Freshness:
    """``status`` of one entry: ``fresh`` (last success within ``entry.freshness``), ``stale`` or ``never run``."""

    entry: ScheduleEntry
    status: Status
    last_success_at: datetime | None

    @property
    def stale(self) -> bool:
        return self.status != "fresh"

    def age(self, now: datetime) -> timedelta | None:
        return None if self.last_success_at is None else now - self.last_success_at


def entry_key(entry: ScheduleEntry, registry: Registry) -> tuple[str, str]:
    """(collector, params key): how history identifies the runs of this entry."""
    return entry.collector, registry.get(entry.collector)(**entry.params).params_key()


def freshness(
    entries: Iterable[ScheduleEntry],
    last_success: Mapping[tuple[str, str], datetime],
    registry: Registry,
    now: datetime,
) -> list[Freshness]:
    """Freshness of each enabled entry, in file order."""
    report = []
    for entry in entries:
        if not entry.enabled:
            continue
        last = last_success.get(entry_key(entry, registry))
        if last is None:
            status: Status = "never run"
        else:
            status = "fresh" if now - last <= entry.freshness else "stale"
        report.append(Freshness(entry, status, last))
    return report
