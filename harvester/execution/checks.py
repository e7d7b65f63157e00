"""Probes: which ``Collector.check()`` calls to make, and making them with a time limit.

A probe is a collector built with params (a schedule entry's, or none for a collector that needs
none), its secret references resolved like a run's, and its ``check()`` called in a daemon thread
of its own. A probe that overruns its time limit is reported as a ``timeout`` failure and
abandoned: Python cannot stop a thread, so it ends when its own socket timeouts end it (or with
the process). Nothing here records anything: callers store the results
(:class:`~harvester.history.checks.CheckStore`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from harvester.collector import Collector, validate_params
from harvester.errors import ConfigError, FailureCategory, classify_failure
from harvester.failure_text import failure_message, redact
from harvester.history.checks import CheckResult
from harvester.history.engine import utcnow
from harvester.registry import Registry
from harvester.request import MessageError
from harvester.schedule.entries import Schedule, ScheduleEntry

log = logging.getLogger(__name__)

#: The label of a probe of a collector with its default params (no schedule entry).
DEFAULTS = "defaults"
#: Characters of a probe's detail that are kept (the start: an error's type and message).
DETAIL_LIMIT = 500
#: Probes started at once; more wait for the previous ones (or their time limit).
PARALLEL = 16

Key = tuple[str, str]


@dataclass(frozen=True)
class CheckTarget:
    """One probe to make: ``collector`` with ``params`` as written (secrets as references or
    values: like a run message's), ``label`` saying where they come from, and the ``queue`` a
    scheduled probe is sent to."""

    collector: str
    params: dict[str, Any]
    label: str = DEFAULTS
    queue: str | None = None

    def to_message(self) -> dict[str, Any]:
        return {"collector": self.collector, "params": self.params, "label": self.label}

    @classmethod
    def from_message(cls, body: object) -> CheckTarget:
        """The target a check task message carries; MessageError (naming the field) when not one."""
        if not isinstance(body, dict) or set(body) != {"collector", "params", "label"}:
            raise MessageError('a check message is {"collector": ..., "params": {...}, "label": ...}')
        if not isinstance(body["collector"], str) or not isinstance(body["label"], str):
            raise MessageError("fields collector and label are strings")
        if not isinstance(body["params"], dict):
            raise MessageError("field params is an object")
        return cls(body["collector"], body["params"], body["label"])


@dataclass(frozen=True)
class CheckPlan:
    """What ``harvester check`` runs: the probes, and the named collectors it cannot probe because
    they need params that no schedule entry gives."""

    targets: tuple[CheckTarget, ...]
    needs_params: tuple[str, ...] = ()


def takes_no_params(cls: type[Collector]) -> bool:
    """True when ``cls`` can be built without params (every field has a default)."""
    try:
        validate_params(cls, {})
    except ConfigError:
        return False
    return True


def entry_label(entry: ScheduleEntry) -> str:
    """``github (line 7)``: a schedule entry as a probe's label."""
    return f"{entry.group} (line {entry.line})"


def entry_target(entry: ScheduleEntry) -> CheckTarget:
    return CheckTarget(entry.collector, dict(entry.params), entry_label(entry), entry.queue)


def probe_key(registry: Registry, target: CheckTarget) -> Key:
    """(collector, params key): what identifies a probe's stored result (secrets left out)."""
    cls = registry.get(target.collector)
    try:
        return cls.name, cls(**target.params).params_key()
    except ConfigError:  # params that do not validate still need a stable key of their own
        shown = json.dumps(cls.masked_params(target.params), sort_keys=True, default=str)
        return cls.name, "invalid-" + hashlib.sha256(shown.encode()).hexdigest()[:24]


def plan_checks(registry: Registry, entries: Iterable[ScheduleEntry], names: Sequence[str] = ()) -> CheckPlan:
    """One probe per enabled schedule entry (with its params), plus one per collector that needs no
    params and has no entry; only those of ``names`` when given. Probes with the same collector and
    params are made once (the first entry's label)."""
    wanted = set(names) or set(registry.names())
    targets: dict[Key, CheckTarget] = {}
    for entry in entries:
        if entry.enabled and entry.collector in wanted:
            target = entry_target(entry)
            targets.setdefault(probe_key(registry, target), target)
    probed = {target.collector for target in targets.values()}
    needs_params: list[str] = []
    for cls in registry:
        if cls.name not in wanted or cls.name in probed:
            continue
        if takes_no_params(cls):
            target = CheckTarget(cls.name, {})
            targets.setdefault(probe_key(registry, target), target)
        elif names:
            needs_params.append(cls.name)
    ordered = sorted(targets.values(), key=lambda t: (t.collector, t.label != DEFAULTS, t.label))
    return CheckPlan(tuple(ordered), tuple(needs_params))


class _Probe:
    """One ``check()`` call under way in a daemon thread."""

    def __init__(self, registry: Registry, target: CheckTarget, clock: Callable[[], datetime]) -> None:
        self.target = target
        self.key = probe_key(registry, target)
        self.checked_at = clock()
        self.started = time.monotonic()
        self.done = threading.Event()
        self.outcome: tuple[bool, str | None, str] = (False, FailureCategory.UNKNOWN.value, "")
        self.duration = 0.0
        cls = registry.get(target.collector)
        self.params: dict[str, Any] = cls.masked_params(target.params)
        try:
            collector = cls(**target.params)
        except ConfigError as exc:
            self._end(False, exc, ())
            return
        self.params = collector.redacted_params()
        threading.Thread(target=self._call, args=(collector,), name=f"check-{cls.name}", daemon=True).start()

    def _call(self, collector: Collector) -> None:
        try:
            collector.resolve_secrets()
            detail = collector.check()
        except (Exception, SystemExit) as exc:
            self._end(False, exc, collector.secret_values())
        else:
            self._end(True, "" if detail is None else str(detail), collector.secret_values())

    def _end(self, ok: bool, what: BaseException | str, secrets: Sequence[str]) -> None:
        self.duration = time.monotonic() - self.started
        if isinstance(what, BaseException):
            self.outcome = (False, classify_failure(what).value, failure_message(what, secrets)[:DETAIL_LIMIT])
        else:
            self.outcome = (ok, None, redact(what, secrets)[:DETAIL_LIMIT])
        self.done.set()

    def result(self, deadline: float, timeout: float) -> CheckResult:
        if self.done.wait(max(deadline - time.monotonic(), 0.0)):
            ok, category, detail = self.outcome
            duration = self.duration
        else:
            ok, category, detail = False, FailureCategory.TIMEOUT.value, f"check() did not end within {timeout:g}s"
            duration = time.monotonic() - self.started
        collector, params_key = self.key
        return CheckResult(
            collector, params_key, self.target.label, self.params, ok, category, detail, self.checked_at, duration
        )


def run_checks(
    registry: Registry,
    targets: Sequence[CheckTarget],
    timeout: float,
    *,
    clock: Callable[[], datetime] = utcnow,
    parallel: int = PARALLEL,
) -> list[CheckResult]:
    """Make the probes, ``parallel`` at a time, each given ``timeout`` seconds; results in order."""
    results: list[CheckResult] = []
    for start in range(0, len(targets), parallel):
        probes = [_Probe(registry, target, clock) for target in targets[start : start + parallel]]
        deadline = time.monotonic() + timeout
        results.extend(probe.result(deadline, timeout) for probe in probes)
    return results


def due_checks(every: Mapping[Key, timedelta], last: Mapping[Key, datetime], now: datetime) -> list[Key]:
    """The probes whose interval has passed since they were last made (or that never were)."""
    return [key for key, interval in every.items() if key not in last or last[key] + interval <= now]


#: Sends scheduled probes to the workers (raises DispatchError when the broker cannot take them).
SendChecks = Callable[[Sequence[CheckTarget]], object]


class CheckBeat:
    """The schedule's ``check:`` entries: beat calls :meth:`tick` every second and sends the probes
    that are due. A probe shared by entries (same collector and params) runs at the shortest of
    their intervals. Where a probe stands after a restart comes from the stored results."""

    def __init__(self, registry: Registry, stored: Callable[[], Mapping[Key, datetime]], send: SendChecks) -> None:
        self.registry = registry
        self.stored = stored
        self.send = send
        self._last: dict[Key, datetime] | None = None
        self._schedule: Schedule | None = None
        self._targets: dict[Key, tuple[CheckTarget, timedelta]] = {}

    def tick(self, schedule: Schedule, now: datetime) -> list[CheckTarget]:
        """Send what is due at ``now``; the probes sent (or that the broker refused: tried again
        after their interval, not every second)."""
        if schedule is not self._schedule:
            self._schedule, self._targets = schedule, self._scheduled(schedule)
        if not self._targets:
            return []
        if self._last is None:
            self._last = dict(self.stored())
        keys = due_checks({k: every for k, (_, every) in self._targets.items()}, self._last, now)
        due = [self._targets[key][0] for key in keys]
        for key in keys:
            self._last[key] = now
        if due:
            try:
                self.send(due)
            except Exception as exc:  # the broker is down: the next interval tries again
                log.warning("%d scheduled checks not sent: %s", len(due), exc)
        return due

    def _scheduled(self, schedule: Schedule) -> dict[Key, tuple[CheckTarget, timedelta]]:
        found: dict[Key, tuple[CheckTarget, timedelta]] = {}
        for entry in schedule.enabled:
            every = entry.check
            if every is None:
                continue
            target = entry_target(entry)
            key = probe_key(self.registry, target)
            if key not in found or every < found[key][1]:
                found[key] = (target, every)
        return found
