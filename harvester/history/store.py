"""Store: the history database, composed by concern (SQLAlchemy Core, no ORM).

- :mod:`history.lifecycle`: record, claim and end runs (the guarded transitions of :mod:`history.states`);
- :mod:`history.fanout`: a parent's members and its one gather;
- :mod:`history.sweep`: what recovery looks for (lost attempts, overdue runs);
- :mod:`history.occurrence`: a schedule occurrence and its runs, in one transaction;
- :mod:`history.retention`: pruning in small batches;
- :mod:`history.run_logs`: what each attempt logged;
- :mod:`history.schedule_reads`: each schedule entry's last success, each group's last batch;
- :mod:`history.summary`: what ended how often per collector and entry (a table the database keeps);
- this module: the reads the CLI, API and dashboard make.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, select

from harvester.history.lifecycle import (
    MAX_LOST_ATTEMPTS,
    Cancelled,
    Claim,
    Ended,
    NewRun,
    Outcome,
    pid_is_dead,
    worker_name,
)
from harvester.history.models import run_attempts, runs
from harvester.history.occurrence import OccurrenceStore
from harvester.history.retention import RetentionStore
from harvester.history.run_logs import RunLogStore
from harvester.history.schedule_reads import ScheduleReads
from harvester.history.states import FINISHED, PENDING, RunStatus
from harvester.history.summary import SummaryReads
from harvester.registry import Registry
from harvester.schedule.entries import Schedule
from harvester.schedule.freshness import history_keys
from harvester.schedule.groups import group_names
from harvester.schedule.overview import ScheduleHistory

__all__ = [
    "FINISHED",
    "MAX_LOST_ATTEMPTS",
    "PENDING",
    "Cancelled",
    "Claim",
    "Ended",
    "NewRun",
    "Outcome",
    "RunStatus",
    "Store",
    "pid_is_dead",
    "run_filters",
    "worker_name",
]


def run_filters(
    *,
    collector: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    parent_run_id: str | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a run listing (CLI, API and dashboard filter alike)."""
    conditions: list[ColumnElement[bool]] = []
    if collector:
        # no name holds NUL, and PostgreSQL refuses it in a query: match nothing rather than fail
        conditions.append(runs.c.collector == collector if "\x00" not in collector else false())
    if status:
        conditions.append(runs.c.status == status)
    if since:
        conditions.append(runs.c.queued_at >= since)
    if parent_run_id:
        conditions.append(runs.c.parent_run_id == parent_run_id if "\x00" not in parent_run_id else false())
    return conditions


def _seconds(started: datetime | None, finished: datetime | None) -> float | None:
    return (finished - started).total_seconds() if started is not None and finished is not None else None


class Store(RetentionStore, OccurrenceStore, RunLogStore, ScheduleReads, SummaryReads):
    """The history database. Safe to share between threads; call :meth:`after_fork` in a child process."""

    def list_runs(
        self,
        *,
        collector: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        parent_run_id: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Runs, newest first."""
        conditions = run_filters(collector=collector, status=status, since=since, parent_run_id=parent_run_id)
        query = select(runs).where(*conditions).order_by(runs.c.queued_at.desc(), runs.c.id.desc()).limit(limit)
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        """Every attempt of a run: the closed ones (retried, lost) and the current or last one."""
        with self._read.connect() as conn:
            query = select(run_attempts).where(run_attempts.c.run_id == run_id).order_by(run_attempts.c.attempt)
            closed = [dict(r) for r in conn.execute(query).mappings()]
            run = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        for attempt in closed:
            attempt["duration"] = _seconds(attempt["started_at"], attempt["finished_at"])
        if run is None or run["attempt"] == 0 or run["status"] in PENDING:
            return closed
        if closed and closed[-1]["attempt"] >= run["attempt"]:
            return closed
        current = {
            "run_id": run_id,
            "attempt": run["attempt"],
            "status": run["status"],
            "started_at": run["attempt_started_at"],
            "finished_at": run["finished_at"],
            "worker": run["worker"],
            "error_category": run["error_category"],
            "error_message": run["error_message"],
            "error_traceback": run["error_traceback"],
            "retry_in": None,
            "duration": _seconds(run["attempt_started_at"], run["finished_at"]),
            "records": run["records"],
            "cpu_seconds": run["cpu_seconds"],
            "peak_memory": run["peak_memory"],
        }
        return [*closed, current]

    def schedule_history(self, schedule: Schedule | None, registry: Registry) -> ScheduleHistory:
        """What ``harvester list``, the API and the dashboard show about ``schedule`` from history."""
        last_runs = self.last_runs([cls.name for cls in registry])
        if schedule is None:
            return ScheduleHistory(collector_successes=self.collector_successes(), last_runs=last_runs)
        return ScheduleHistory(
            entry_successes=self.entry_successes(history_keys(schedule.enabled, registry)),
            collector_successes=self.collector_successes(),
            last_runs=last_runs,
            last_batches=self.last_batches(group_names(schedule)),
        )
