"""Dispatch of the schedule file: each due occurrence once, as one batch per group.

``ScheduleDispatcher.tick(now)`` is the whole algorithm, with time passed in: for every enabled
entry, the latest occurrence in ``(last tick, now]`` (so a missed occurrence runs once after
downtime, not once per missed tick) is claimed in the database, where a unique key per
(entry, occurrence) makes a second scheduler's claim fail: two ``harvester beat`` processes
dispatch each occurrence once. Claimed entries whose ``when`` predicate agrees are sent as one
batch per group, which a worker runs one after another in file order; groups run in parallel.
``HarvesterScheduler`` is the Celery beat ``Scheduler`` that calls it every second and keeps
beat's own periodic entries (the reaper).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from celery.beat import PersistentScheduler

from harvester.errors import ConfigError
from harvester.history.engine import utcnow
from harvester.schedule.entries import Schedule, ScheduleEntry
from harvester.schedule.freshness import entry_key
from harvester.schedule.loader import load_schedule
from harvester.schedule.predicates import should_run
from harvester.schedule.timing import due

if TYPE_CHECKING:
    from harvester.app import Harvester
    from harvester.request import RunRequest

log = logging.getLogger(__name__)

Submit = Callable[[Sequence["RunRequest"]], list[str]]


class ScheduleDispatcher:
    """Loads the schedule file (and reloads it when it changes) and dispatches due occurrences."""

    def __init__(self, hv: Harvester, path: Path, *, strict: bool, submit: Submit | None = None) -> None:
        self.hv = hv
        self.path = path
        self.strict = strict
        self.submit: Submit = submit or hv.submit_batch
        self.schedule = self._load()  # raises ScheduleError at start-up in strict mode
        self._mtime = self._stat()
        self._last: dict[str, datetime] = {}
        self._keys: dict[tuple[str, int], str] = {}
        self._started: datetime | None = None
        self.reload_requested = False
        self.error: str | None = None

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def _load(self) -> Schedule:
        schedule = load_schedule(self.path, self.hv.registry, strict=self.strict)
        for problem in schedule.problems:
            log.error("schedule entry skipped: %s", problem)
        return schedule

    def reload_if_changed(self) -> None:
        """Pick up an edited file; a broken edit keeps the last good schedule running."""
        mtime = self._stat()
        if mtime == self._mtime and not self.reload_requested:
            return
        self._mtime, self.reload_requested = mtime, False
        try:
            self.schedule = self._load()
            self._keys.clear()
            self.error = None
            log.info("schedule reloaded from %s: %d entries", self.path, len(self.schedule.entries))
        except ConfigError as exc:
            self.error = str(exc)
            log.error("schedule %s not reloaded, the last good one keeps running:\n%s", self.path, exc)

    def tick(self, now: datetime) -> list[list[str]]:
        """Dispatch what is due at ``now``; returns the run ids of each batch sent."""
        if self._started is None:
            self._resume(now)
        batches: dict[str, list[RunRequest]] = {}
        for entry in self.schedule.enabled:
            batches.setdefault(entry.group, []).extend(self._claim(entry, now))
        return [self.submit(batch) for batch in batches.values() if batch]

    def _resume(self, now: datetime) -> None:
        """Where to start: the last dispatched occurrence of each entry, or now for a new one."""
        self._last = dict(self.hv.store.last_occurrences())
        self._started = now

    def _claim(self, entry: ScheduleEntry, now: datetime) -> list[RunRequest]:
        """The runs of this entry's occurrence due at ``now`` that this scheduler won, in order."""
        key = self._key(entry)
        occurrence = due(entry, self._last.get(key, self._started or now), now, self.schedule.timezone)
        if occurrence is None:
            return []
        self._last[key] = occurrence
        runs, why = should_run(entry)
        requests = self.hv.entry_requests(entry) if runs else []
        first = requests[0].run_id if requests else None
        if not self.hv.store.claim_occurrence(key, occurrence, run_id=first, note=why or None):
            return []  # another scheduler dispatched this occurrence
        if not runs:
            log.info("schedule entry %s (line %d) skipped at %s: %s", entry.collector, entry.line, occurrence, why)
        return requests

    def _key(self, entry: ScheduleEntry) -> str:
        """Stable across edits that move the entry; computed once per loaded schedule."""
        position = (entry.group, entry.index)
        key = self._keys.get(position)
        if key is None:
            collector, params_key = entry_key(entry, self.hv.registry)
            key = self._keys[position] = f"{entry.group}:{collector}:{params_key}"
        return key


def make_scheduler_class(dispatcher: ScheduleDispatcher | None) -> type[PersistentScheduler]:
    """A beat Scheduler that runs beat's own entries and, every second, the schedule file's."""

    class HarvesterScheduler(PersistentScheduler):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if dispatcher is not None:
                signal.signal(signal.SIGHUP, self._on_hup)

        @staticmethod
        def _on_hup(signum: int, frame: FrameType | None) -> None:
            if dispatcher is not None:
                dispatcher.reload_requested = True

        def tick(self, *args: Any, **kwargs: Any) -> float:
            interval = float(super().tick(*args, **kwargs))
            if dispatcher is None:
                return interval
            try:
                dispatcher.reload_if_changed()
                dispatcher.tick(utcnow())
            except Exception:
                log.exception("schedule dispatch failed; trying again next second")
            return min(interval, 1.0)

    return HarvesterScheduler
