"""Dispatch of the schedule file: each due occurrence once, as one batch per group.

``ScheduleDispatcher.tick(now)`` is the whole algorithm, with time passed in: for every enabled
entry, the latest occurrence in ``(last tick, now]`` (so a missed occurrence runs once after
downtime, not once per missed tick) is claimed in the database together with its runs; all those
due at one tick in one transaction: a unique key per (entry, occurrence) makes a second scheduler's claim fail, so two
``harvester beat`` processes dispatch each occurrence once, and only the winner evaluates the
entry's ``when`` predicate and its collector's ``targets()``. The in-memory position advances only
once that transaction committed; a failed write is tried again next tick. The recorded runs are
then sent as one batch per group, which a worker runs one after another in file order; a batch
that cannot be sent is recovery's job (the runs are recorded and due). ``HarvesterScheduler`` is
the Celery beat ``Scheduler`` that calls it at each due instant (and at least every second) and
keeps beat's own periodic entries (recovery).
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from celery.beat import PersistentScheduler

from harvester.dispatch.celery_app import send_checks
from harvester.errors import ConfigError
from harvester.execution.checks import CheckBeat
from harvester.execution.dispatcher import DispatchError
from harvester.execution.requests import entry_requests, new_run
from harvester.history.checks import CheckStore
from harvester.history.engine import DatabaseError, utcnow
from harvester.history.occurrence import DueOccurrence
from harvester.history.store import NewRun, Store
from harvester.registry import Registry
from harvester.request import RunRequest, new_batch_id, new_run_id
from harvester.schedule.entries import Schedule, ScheduleEntry
from harvester.schedule.freshness import entry_key
from harvester.schedule.loader import UTC_ZONE, load_schedule
from harvester.schedule.predicates import should_run
from harvester.schedule.timing import due, next_run

log = logging.getLogger(__name__)

#: Sends a group's recorded runs as one batch (raises DispatchError when the broker cannot take it).
Submit = Callable[[Sequence[RunRequest]], object]

#: How often beat repeats that its (implicit, optional) schedule file is missing.
MISSING_FILE_WARNING_EVERY = timedelta(minutes=5)
#: How long due entries wait after the database refused their dispatch.
RETRY_AFTER_ERROR = timedelta(seconds=1)
#: Beat sleeps until the next due instant plus this, so it wakes just after it, not just before.
WAKE_MARGIN = 0.002


@dataclass(frozen=True)
class Dispatch:
    """One occurrence of an entry this scheduler recorded, with its runs (none: see its note)."""

    entry: ScheduleEntry
    occurrence: datetime
    requests: tuple[RunRequest, ...]


class ScheduleDispatcher:
    """Loads the schedule file (and reloads it when it changes) and dispatches due occurrences.

    ``optional``: the file may be absent (the implicit default path): the schedule is empty, a
    WARNING says so every :data:`MISSING_FILE_WARNING_EVERY`, and the file is loaded once it appears.
    Otherwise a missing file is a ``ConfigError`` at start-up, like any unreadable one."""

    def __init__(
        self, registry: Registry, store: Store, path: Path, *, strict: bool, submit: Submit, optional: bool = False
    ) -> None:
        self.registry = registry
        self.store = store
        self.path = path
        self.strict = strict
        self.submit = submit
        self.optional = optional
        self.schedule = self._load()  # raises ScheduleError at start-up in strict mode
        self._mtime = self._stat()
        self._last: dict[str, datetime] = {}
        self._keys: dict[tuple[str, int], str] = {}
        #: entry key -> (the position it was computed from, the first occurrence after it)
        self._next: dict[str, tuple[datetime, datetime]] = {}
        self._retry_at: datetime | None = None
        #: entry key -> its run and history row, for entries without ``targets()`` (ids replaced per occurrence)
        self._templates: dict[str, tuple[RunRequest, NewRun]] = {}
        self._started: datetime | None = None
        self._warned_missing: datetime | None = None
        self.reload_requested = False
        self.error: str | None = None

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    @property
    def missing(self) -> bool:
        """The optional file is absent (so nothing is scheduled)."""
        return self.optional and self._mtime is None

    def _load(self) -> Schedule:
        if self.optional and not self.path.exists():
            return Schedule(UTC_ZONE)
        schedule = load_schedule(self.path, self.registry, strict=self.strict)
        for problem in schedule.problems:
            log.error("schedule entry skipped: %s", problem)
        return schedule

    def reload_if_changed(self, now: datetime | None = None) -> None:
        """Pick up an edited file; a broken edit keeps the last good schedule running.

        An entry new to this reload (added, or its params changed) starts from the reload time:
        its past occurrences are not dispatched."""
        mtime = self._stat()
        if mtime == self._mtime and not self.reload_requested:
            return
        self._mtime, self.reload_requested = mtime, False
        try:
            schedule = self._load()
        except ConfigError as exc:
            self.error = str(exc)
            log.error("schedule %s not reloaded, the last good one keeps running:\n%s", self.path, exc)
            return
        before = {self._key(entry) for entry in self.schedule.enabled}
        self.schedule, self.error = schedule, None
        self._keys.clear()
        self._next.clear()
        self._templates.clear()
        moment = now or utcnow()
        for entry in schedule.enabled:
            key = self._key(entry)
            if key not in before:
                self._last[key] = max(self._last.get(key, moment), moment)
        log.info("schedule reloaded from %s: %d entries", self.path, len(schedule.entries))

    def tick(self, now: datetime) -> list[list[str]]:
        """Dispatch what is due at ``now``; returns the run ids of each batch recorded.

        Every occurrence due at this tick is claimed, with its runs, in one transaction; each one
        dispatched is one INFO line, once its group's batch went out (or could not)."""
        if self._started is None:
            self._resume(now)
        self._warn_if_missing(now)
        batch_ids: dict[str, str] = {}  # a group's runs of this tick are one batch
        pending: list[tuple[ScheduleEntry, DueOccurrence, list[RunRequest]]] = []
        for entry in self.schedule.enabled:
            key = self._key(entry)
            last = self._last.get(key, self._started or now)
            if self._next_after(entry, key, last) > now:
                continue  # the common case, without computing the schedule again
            occurrence = due(entry, last, now, self.schedule.timezone)
            if occurrence is not None:
                requests: list[RunRequest] = []
                if entry.group not in batch_ids:
                    batch_ids[entry.group] = new_batch_id(now)
                build = self._builder(entry, key, occurrence, batch_ids[entry.group], requests)
                pending.append((entry, DueOccurrence(key, occurrence, build), requests))
        if not pending:
            return []
        try:
            won = self.store.dispatch_occurrences([d for _, d, _ in pending])
        except DatabaseError as exc:  # nothing recorded, positions kept: the next tick tries again
            log.warning("%d due schedule entries not dispatched: %s", len(pending), exc)
            self._retry_at = now + RETRY_AFTER_ERROR
            return []
        batches: dict[str, list[Dispatch]] = {}
        for (entry, claimed, requests), runs in zip(pending, won, strict=True):
            self._last[claimed.entry_key] = claimed.due_at
            if runs is not None:  # else another scheduler dispatched this occurrence
                batches.setdefault(entry.group, []).append(Dispatch(entry, claimed.due_at, tuple(requests)))
        return [self._send(dispatches) for dispatches in batches.values() if any(d.requests for d in dispatches)]

    def _next_after(self, entry: ScheduleEntry, key: str, last: datetime) -> datetime:
        """The entry's first occurrence after ``last``, computed once per position: a tick costs a
        comparison per entry that is not due, not a walk of its schedule."""
        known = self._next.get(key)
        if known is not None and known[0] == last:
            return known[1]
        upcoming = next_run(entry, last, self.schedule.timezone)
        self._next[key] = (last, upcoming)
        return upcoming

    def seconds_until_due(self, now: datetime) -> float:
        """How long beat may sleep before the next occurrence of any entry is due (0: one is due).
        Before a first tick that got as far as reading its positions: a second, the usual pace."""
        if self._started is None:
            return 1.0
        upcoming = [
            self._next_after(entry, key, self._last.get(key, self._started))
            for entry, key in ((entry, self._key(entry)) for entry in self.schedule.enabled)
        ]
        if not upcoming:
            return float("inf")
        # after a failed write the due entries wait a second, rather than the database being asked non-stop
        wake = max(min(upcoming), self._retry_at) if self._retry_at is not None else min(upcoming)
        return max(0.0, (wake - now).total_seconds())

    def _send(self, dispatches: list[Dispatch]) -> list[str]:
        batch = [request for dispatched in dispatches for request in dispatched.requests]
        outcome = "sent"
        try:
            self.submit(batch)
        except DispatchError as exc:
            outcome = f"recorded, not sent ({exc}); recovery sends them"
        for dispatched in dispatches:
            if dispatched.requests:
                log.info(
                    "Sending due entry %s occurrence %s: %s %s",
                    describe(dispatched.entry),
                    dispatched.occurrence.isoformat(),
                    "run" if len(dispatched.requests) == 1 else "runs",
                    ", ".join(r.run_id for r in dispatched.requests) + ("" if outcome == "sent" else f" {outcome}"),
                )
        return [r.run_id for r in batch]

    def _warn_if_missing(self, now: datetime) -> None:
        if not self.missing:
            return
        if self._warned_missing is None or now - self._warned_missing >= MISSING_FILE_WARNING_EVERY:
            self._warned_missing = now
            log.warning(
                "no schedule file at %s (HARVESTER_SCHEDULE_FILE): nothing is scheduled, only recovery runs; "
                "the file is picked up once it exists",
                self.path.resolve(),
            )

    def _resume(self, now: datetime) -> None:
        """Where to start: the last dispatched occurrence of each entry, or now for a new one."""
        self._last = {**dict(self.store.last_occurrences()), **self._last}
        self._started = now

    def _builder(
        self, entry: ScheduleEntry, key: str, occurrence: datetime, batch_id: str, requests: list[RunRequest]
    ) -> Callable[[], tuple[list[NewRun], str | None]]:
        """How an occurrence's runs are built once this scheduler won it (``requests`` gets them)."""

        def build() -> tuple[list[NewRun], str | None]:
            runs, why = should_run(entry)
            if not runs:
                log.info("schedule entry %s skipped at %s: %s", describe(entry), occurrence.isoformat(), why)
                return [], why or None
            made = self._entry_runs(entry, key, batch_id)
            requests.extend(request for request, _ in made)  # only once all of them could be built
            return [row for _, row in made], None

        return build

    def _entry_runs(self, entry: ScheduleEntry, key: str, batch_id: str) -> list[tuple[RunRequest, NewRun]]:
        """An occurrence's runs and their history rows. An entry without ``targets()`` always makes
        the same run: its params are validated and masked once per loaded schedule, and each
        occurrence only gets new ids (10,000 entries due at once would otherwise build 20,000
        collectors in the tick)."""
        if self.registry.get(entry.collector).targets() is not None:
            return [(r, new_run(self.registry, r)) for r in entry_requests(self.registry, entry, batch_id, key)]
        template = self._templates.get(key)
        if template is None:
            [request] = entry_requests(self.registry, entry, None, key)
            template = self._templates[key] = (request, new_run(self.registry, request))
        request = replace(template[0], run_id=new_run_id(), batch_id=batch_id)
        return [(request, replace(template[1], run_id=request.run_id, task_id=request.run_id, batch_id=batch_id))]

    def _key(self, entry: ScheduleEntry) -> str:
        """Group, collector, params and schedule: stable across edits that move the entry (one group may
        run a collector with the same params on several schedules); computed once per loaded schedule."""
        position = (entry.group, entry.index)
        key = self._keys.get(position)
        if key is None:
            key = self._keys[position] = entry_key(entry, self.registry)
        return key


def describe(entry: ScheduleEntry) -> str:
    """``github/github_stars (line 7, daily at 02:30)``: how beat's log names an entry."""
    return f"{entry.group}/{entry.collector} (line {entry.line}, {entry.schedule_text})"


def _call_hook(hook: Callable[[], object] | None) -> None:
    try:
        if hook is not None:
            hook()
    except Exception:
        log.exception("scheduler tick hook failed; called again next tick")


class Every:
    """Calls ``action`` at most every ``seconds`` (beat's recovery pass); an error is logged, not raised."""

    def __init__(self, action: Callable[[], object] | None, seconds: float) -> None:
        self.action = action
        self.seconds = seconds
        self._next = 0.0

    def __call__(self) -> None:
        if self.action is None or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.seconds
        try:
            self.action()
        except Exception:
            log.exception("recovery pass failed; trying again in %.0f s", self.seconds)


def _check_beat(dispatcher: ScheduleDispatcher, app: Any) -> CheckBeat:
    """The schedule's ``check:`` probes, sent to the workers through beat's Celery app."""
    registry = dispatcher.registry

    def stored() -> dict[tuple[str, str], datetime]:
        return {key: row["checked_at"] for key, row in CheckStore(dispatcher.store).latest().items()}

    return CheckBeat(registry, stored, lambda targets: send_checks(app, registry, targets))


def make_scheduler_class(
    dispatcher: ScheduleDispatcher | None,
    recover: Callable[[], object] | None = None,
    recover_every: float = 30.0,
    on_tick: Callable[[], object] | None = None,
) -> type[PersistentScheduler]:
    """A beat Scheduler that runs beat's own entries, the schedule file's at each due instant (at least
    every second), and every ``recover_every`` seconds a recovery pass in this process (no message
    needed: it works even when no worker consumes the default queue). ``on_tick`` is called on every
    tick and must return at once (the alert loop's: it only makes sure its own thread runs)."""
    recovery = Every(recover, recover_every)

    class HarvesterScheduler(PersistentScheduler):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.checks = _check_beat(dispatcher, self.app) if dispatcher is not None else None
            if dispatcher is not None:
                signal.signal(signal.SIGHUP, self._on_hup)

        @staticmethod
        def _on_hup(signum: int, frame: FrameType | None) -> None:
            if dispatcher is not None:
                dispatcher.reload_requested = True

        def tick(self, *args: Any, **kwargs: Any) -> float:
            interval = float(super().tick(*args, **kwargs))
            recovery()
            _call_hook(on_tick)
            if dispatcher is None:
                return min(interval, recover_every)
            wait = 1.0  # after a failure: the next second, never a busy loop
            try:
                now = utcnow()
                dispatcher.reload_if_changed(now)
                dispatcher.tick(now)
                # wake at the next due instant, not up to a second after it
                wait = dispatcher.seconds_until_due(utcnow()) + WAKE_MARGIN
            except Exception:
                log.exception("schedule dispatch failed; trying again next second")
            try:
                if self.checks is not None:
                    self.checks.tick(dispatcher.schedule, now)
            except Exception:
                log.exception("scheduled checks not sent; trying again next second")
            return min(interval, 1.0, wait)

    return HarvesterScheduler
