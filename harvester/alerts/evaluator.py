"""The evaluator: what history, the schedule, the workers and the checks say now -> incident changes,
each recorded together with its deliveries (the outbox).

Runs are read since the last evaluation (at start: the last :data:`LOOKBACK`), a little more
(:data:`OVERLAP`) so a run committed late is not missed; reading a run twice changes nothing (only
each collector's latest outcome counts). A source that cannot be read (the broker down for a worker
ping) observes nothing that time, so it neither opens nor resolves anything. A database error leaves
the position where it was: the next evaluation reads the same runs again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from harvester.alerts.events import RESOLVED_EVENT, AlertEvent, CheckStatus, Condition, OpenIncident
from harvester.alerts.incidents import (
    Changes,
    FinishedRun,
    WorkerSeen,
    changes,
    check_conditions,
    run_conditions,
    stale_conditions,
    worker_conditions,
)
from harvester.alerts.message import payload
from harvester.alerts.routing import Router
from harvester.history.alerts import PENDING, AlertStore
from harvester.registry import Registry
from harvester.schedule.entries import Schedule, ScheduleEntry
from harvester.schedule.freshness import entry_key, freshness, history_keys

log = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=1)
OVERLAP = timedelta(seconds=60)
#: A worker not seen for this long is forgotten (a restarted worker has a new name).
FORGET_WORKERS = timedelta(days=7)

#: The names of the workers answering a ping now; None when they cannot be asked.
Workers = Callable[[], Sequence[str] | None]
#: The latest check of each collector (see CheckStatus).
Checks = Callable[[], Iterable[CheckStatus]]
#: The schedule as the scheduler has it now (reloads included); None: no schedule.
ScheduleSource = Callable[[], Schedule | None]
#: Each entry key's last success (``Store.entry_successes``).
Successes = Callable[[Mapping[str, tuple[str, str]]], Mapping[str, datetime]]


@dataclass(frozen=True)
class Sources:
    """What the evaluator looks at; each optional one may be None (not observed)."""

    schedule: ScheduleSource | None = None
    successes: Successes | None = None
    workers: Workers | None = None
    checks: Checks | None = None


class Evaluator:
    def __init__(
        self,
        store: AlertStore,
        registry: Registry,
        router: Router,
        sources: Sources,
        worker_grace: timedelta = timedelta(minutes=2),
    ) -> None:
        self.store = store
        self.registry = registry
        self.router = router
        self.sources = sources
        self.worker_grace = worker_grace
        self._since: datetime | None = None
        self._seen: dict[str, WorkerSeen] = {}
        self._entries: tuple[Schedule | None, dict[str, ScheduleEntry]] = (None, {})

    def evaluate(self, now: datetime) -> Changes:
        """Observe, compare with the open incidents, record the changes and their deliveries."""
        open_incidents = {i.key: i for i in map(_open_incident, self.store.open_incidents())}
        entries = self._entry_keys()
        since = (self._since or now - LOOKBACK) - OVERLAP
        conditions = [
            *run_conditions(FinishedRun(**_run_fields(r)) for r in self.store.finished_runs(since, now)),
            *self._observe("freshness", lambda: self._stale(entries, now)),
            *self._observe("workers", lambda: self._workers(open_incidents, now)),
            *self._observe("checks", lambda: check_conditions(self.sources.checks() if self.sources.checks else ())),
        ]
        found = changes(conditions, open_incidents)
        for condition in found.opened:
            self._open(condition, entries, now)
        for incident, condition in found.resolved:
            self._resolve(incident, condition, now)
        self._since = now
        return found

    def _observe(self, what: str, observe: Callable[[], list[Condition]]) -> list[Condition]:
        try:
            return observe()
        except Exception as exc:
            log.warning("alerts: %s not observed this time: %s: %s", what, type(exc).__name__, exc)
            return []

    def _entry_keys(self) -> dict[str, ScheduleEntry]:
        schedule = self.sources.schedule() if self.sources.schedule else None
        if schedule is not self._entries[0]:
            keys = {entry_key(e, self.registry): e for e in schedule.enabled} if schedule else {}
            self._entries = (schedule, keys)
        return self._entries[1]

    def _stale(self, entries: Mapping[str, ScheduleEntry], now: datetime) -> list[Condition]:
        if not entries or self.sources.successes is None:
            return []
        last = self.sources.successes(history_keys(entries.values(), self.registry))
        reports = freshness(entries.values(), last, self.registry, now)  # one per (enabled) entry, in order
        return stale_conditions(zip(entries, reports, strict=True), now)

    def _workers(self, open_incidents: Mapping[str, OpenIncident], now: datetime) -> list[Condition]:
        if self.sources.workers is None:
            return []
        answering = self.sources.workers()
        if answering is None:
            return []
        for name in answering:
            if name not in self._seen:
                log.info("alerts: watching worker %s (gone after %s without an answer)", name, self.worker_grace)
            first = self._seen[name].first_seen if name in self._seen else now
            self._seen[name] = WorkerSeen(name, first, now)
        for incident in open_incidents.values():  # opened before this process started: still watched
            if incident.kind == "worker_gone" and incident.subject not in self._seen:
                self._seen[incident.subject] = WorkerSeen(incident.subject, incident.opened_at, incident.opened_at)
        for name in [n for n, w in self._seen.items() if now - w.last_seen > FORGET_WORKERS]:
            del self._seen[name]
        return worker_conditions(self._seen, now, self.worker_grace)

    def _open(self, condition: Condition, entries: Mapping[str, ScheduleEntry], now: datetime) -> None:
        targets = self.router.route(condition, entries)
        row = {
            "key": condition.key,
            "kind": condition.kind,
            "subject": condition.subject[:255],
            "summary": condition.summary,
            "opened_at": condition.at,
            "resolved_at": None,
            "detail": dict(condition.detail),
            "targets": list(targets),
        }

        def build(incident_id: int) -> list[dict[str, Any]]:
            incident = {**row, "id": incident_id}
            return [_delivery(incident, condition.kind, target, condition, now) for target in targets]

        if self.store.open_incident(row, build) is not None:
            log.warning("alert: %s (to %s)", condition.summary, ", ".join(targets) or "no target")

    def _resolve(self, incident: OpenIncident, condition: Condition, now: datetime) -> None:
        row = {
            "id": incident.id,
            "key": incident.key,
            "kind": incident.kind,
            "subject": incident.subject,
            "opened_at": incident.opened_at,
            "resolved_at": condition.at,
        }

        def build(incident_id: int) -> list[dict[str, Any]]:
            event = RESOLVED_EVENT[incident.kind]
            return [_delivery(row, event, target, condition, now) for target in incident.targets]

        if self.store.resolve_incident(incident.id, condition.at, build):
            log.info("alert resolved: %s", condition.summary)


def _delivery(
    incident: Mapping[str, Any], event: AlertEvent, target: str, condition: Condition, now: datetime
) -> dict[str, Any]:
    alert_id = str(uuid.uuid4())
    return {
        "id": alert_id,
        "incident_id": incident["id"],
        "event": event,
        "target": target,
        "payload": payload(alert_id, event, incident, condition.summary, condition.at, condition.detail),
        "status": PENDING,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def _open_incident(row: Mapping[str, Any]) -> OpenIncident:
    return OpenIncident(
        id=int(row["id"]),
        key=row["key"],
        kind=row["kind"],
        subject=row["subject"],
        opened_at=row["opened_at"],
        targets=tuple(row["targets"] or ()),
    )


def _run_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": row["id"],
        "collector": row["collector"],
        "params_key": row["params_key"],
        "status": row["status"],
        "finished_at": row["finished_at"],
        "error_category": row["error_category"],
        "error_message": row["error_message"],
        "entry_key": row["entry_key"],
        "group": row["schedule_group"],
    }
