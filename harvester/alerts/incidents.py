"""Which incidents open and which resolve: pure functions of what was observed, with time passed in.

Each ``*_conditions`` function turns one kind of observation into :class:`Condition` values;
:func:`changes` compares them with the open incidents. Only a change alerts: a condition that is
bad while its incident is open (the tenth failed run in a row, a stale entry still stale) alerts
nobody, and neither does a fine one with nothing open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from harvester.alerts.events import CheckStatus, Condition, OpenIncident
from harvester.schedule.entries import format_duration
from harvester.schedule.freshness import Freshness


@dataclass(frozen=True)
class FinishedRun:
    """A run that ended for good (``failed`` after its retries, or ``succeeded``), as history has it."""

    run_id: str
    collector: str
    params_key: str
    status: str
    finished_at: datetime
    error_category: str | None = None
    error_message: str | None = None
    entry_key: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class WorkerSeen:
    """A worker that answered a ping: first and last time it did."""

    name: str
    first_seen: datetime
    last_seen: datetime

    @property
    def host(self) -> str:
        return self.name.rpartition("@")[2]


@dataclass(frozen=True)
class Changes:
    """Incidents to open (their bad conditions) and to resolve (the open incident, its fine condition)."""

    opened: tuple[Condition, ...] = ()
    resolved: tuple[tuple[OpenIncident, Condition], ...] = ()


def run_conditions(finished: Iterable[FinishedRun]) -> list[Condition]:
    """One condition per collector and params: the latest run's (failed is bad, succeeded fine)."""
    latest: dict[tuple[str, str], FinishedRun] = {}
    for run in finished:
        key = (run.collector, run.params_key)
        if key not in latest or run.finished_at >= latest[key].finished_at:
            latest[key] = run
    return [_run_condition(run) for run in latest.values() if run.status in ("failed", "succeeded")]


def _run_condition(run: FinishedRun) -> Condition:
    failed = run.status == "failed"
    if failed:
        category = f" ({run.error_category})" if run.error_category else ""
        summary = f"{run.collector} failed{category}: {run.error_message or 'no message'}"
    else:
        summary = f"{run.collector} succeeded again (run {run.run_id})"
    return Condition(
        key=f"run_failed:{run.collector}:{run.params_key}",
        kind="run_failed",
        subject=run.collector,
        bad=failed,
        summary=summary[:1000],
        at=run.finished_at,
        detail={"run_id": run.run_id, "error_category": run.error_category if failed else None},
        collector=run.collector,
        group=run.group,
        entry_key=run.entry_key,
    )


def stale_conditions(reports: Iterable[tuple[str, Freshness]], now: datetime) -> list[Condition]:
    """One condition per entry key that ran at least once: stale is bad, fresh fine (never run: none;
    a new entry is not stale, and one that never succeeds alerts as failing)."""
    found = []
    for key, report in reports:
        if report.last_success_at is None:
            continue
        entry = report.entry
        name = f"{entry.group}/{entry.collector}"
        age = _age(now - report.last_success_at)
        stale = report.status == "stale"
        summary = (
            f"{name} ({entry.schedule_text}) is stale: last success {age} ago"
            if stale
            else f"{name} is fresh again: last success {age} ago"
        )
        found.append(
            Condition(
                key=f"stale:{key}",
                kind="stale",
                subject=name,
                bad=stale,
                summary=summary,
                at=now,
                detail={
                    "entry_line": entry.line,
                    "last_success_at": report.last_success_at.isoformat(),
                    "freshness_seconds": entry.freshness.total_seconds(),
                },
                collector=entry.collector,
                group=entry.group,
                entry_key=key,
            )
        )
    return found


def worker_conditions(seen: Mapping[str, WorkerSeen], now: datetime, grace: timedelta) -> list[Condition]:
    """A worker is gone when it has not answered for ``grace``, unless a newer worker on its host
    answers (a restart gives a worker a new name: the old one is then replaced, not gone)."""
    found = []
    for worker in seen.values():
        silent = now - worker.last_seen > grace
        replaced = any(
            other.host == worker.host and other.name != worker.name and other.first_seen >= worker.last_seen
            for other in seen.values()
        )
        gone = silent and not replaced
        summary = (
            f"worker {worker.name} is gone: no answer for {_age(now - worker.last_seen)}"
            if gone
            else f"worker {worker.name} {'was replaced' if replaced else 'answers again'}"
        )
        detail = {"last_seen": worker.last_seen.isoformat()}
        found.append(Condition(f"worker_gone:{worker.name}", "worker_gone", worker.name, gone, summary, now, detail))
    return found


def check_conditions(statuses: Iterable[CheckStatus]) -> list[Condition]:
    """One condition per collector (and params): its latest check (failed is bad, passed fine)."""
    latest: dict[str, CheckStatus] = {}
    for status in statuses:
        if status.key not in latest or status.checked_at >= latest[status.key].checked_at:
            latest[status.key] = status
    return [
        Condition(
            key=s.key,
            kind="check_failed",
            subject=(s.label or s.collector)[:255],
            bad=not s.ok,
            summary=f"{s.label or s.collector} check {'passed' if s.ok else 'failed'}: {s.message}"[:1000],
            at=s.checked_at,
            collector=s.collector,
            group=s.group,
        )
        for s in latest.values()
    ]


def changes(conditions: Iterable[Condition], open_incidents: Mapping[str, OpenIncident]) -> Changes:
    """Open what turned bad, resolve what turned fine; a key observed twice counts its last condition."""
    latest = {condition.key: condition for condition in conditions}
    opened = tuple(c for c in latest.values() if c.bad and c.key not in open_incidents)
    resolved = tuple((open_incidents[c.key], c) for c in latest.values() if not c.bad and c.key in open_incidents)
    return Changes(opened, resolved)


def _age(delta: timedelta) -> str:
    """``2h5m`` (to the minute once over an hour: an alert needs no seconds)."""
    seconds = max(int(delta.total_seconds()), 0)
    return format_duration(timedelta(seconds=seconds - seconds % 60 if seconds >= 3600 else seconds))
