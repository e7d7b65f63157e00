"""Freshness: is each enabled entry's last success recent enough? Pure: history and time come in."""

from __future__ import annotations

import hashlib
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


def entry_key(entry: ScheduleEntry, registry: Registry) -> str:
    """``group:collector:params key:schedule hash``: how the scheduler and history identify the runs of
    this entry. Stable across edits that move the entry; one group may run a collector with the same
    params on several schedules, and each of those is an entry of its own."""
    params_key = registry.get(entry.collector)(**entry.params).params_key()
    when = hashlib.sha256(entry.schedule_text.encode()).hexdigest()[:12]
    return f"{entry.group}:{entry.collector}:{params_key}:{when}"


def history_keys(entries: Iterable[ScheduleEntry], registry: Registry) -> dict[str, tuple[str, str]]:
    """Entry key -> (collector, params key) of each enabled entry: what history is asked about them."""
    keys = {}
    for entry in entries:
        if entry.enabled:
            collector = registry.get(entry.collector)(**entry.params)
            keys[entry_key(entry, registry)] = (entry.collector, collector.params_key())
    return keys


def freshness(
    entries: Iterable[ScheduleEntry],
    last_success: Mapping[str, datetime],
    registry: Registry,
    now: datetime,
) -> list[Freshness]:
    """Freshness of each enabled entry, in file order; ``last_success`` is by entry key (runs of
    that entry: the same collector and params in another group, or run by hand, do not count)."""
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
