"""Alert incidents, the outbox of their deliveries, and every delivery attempt (see harvester.alerts).

An incident's change and the deliveries announcing it are written in one transaction (the outbox):
an alert is never lost between the two, and a delivery is sent until delivered or given up. At most
one incident per key is open (a partial unique index): of two schedulers opening it at once, one wins.
A delivery is claimed before it is sent (its due time moved by a lease), so two delivery loops do
not send it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from harvester.history.engine import READ_ONLY, Database, aware
from harvester.history.models import alert_attempts, alert_deliveries, alert_incidents, runs

PENDING, DELIVERED, GAVE_UP = "pending", "delivered", "failed"
#: The run statuses alerts read: a failure after its retries, and a success.
ENDED_FOR_GOOD = frozenset({"failed", "succeeded"})
#: Builds the deliveries of an incident's change once its id is known (rows of alert_deliveries).
BuildDeliveries = Callable[[int], Sequence[dict[str, Any]]]


class AlertStore:
    """The alert tables of a history database (shares its engine)."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        self._read = db.engine.execution_options(**{READ_ONLY: True})
        self._insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert

    # -- what the evaluator reads ------------------------------------------------------------

    def open_incidents(self) -> list[dict[str, Any]]:
        with self._read.connect() as conn:
            query = select(alert_incidents).where(alert_incidents.c.resolved_at.is_(None))
            return [dict(r) for r in conn.execute(query).mappings()]

    def finished_runs(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Runs (not fan-out members) that failed for good or succeeded in ``(since, until]``, oldest first.

        Only ``finished_at`` is in the WHERE clause, so the query is a range of its index (asked for
        status or parent as well, SQLite would scan every top-level run instead); the few runs of the
        range are filtered here."""
        query = (
            select(
                runs.c.id,
                runs.c.collector,
                runs.c.params_key,
                runs.c.status,
                runs.c.finished_at,
                runs.c.error_category,
                runs.c.error_message,
                runs.c.entry_key,
                runs.c.schedule_group,
                runs.c.parent_run_id,
            )
            .where(runs.c.finished_at > since, runs.c.finished_at <= until)
            .order_by(runs.c.finished_at)
        )
        with self._read.connect() as conn:
            rows = conn.execute(query).mappings()
            return [
                {**r, "finished_at": aware(r["finished_at"])}
                for r in rows
                if r["status"] in ENDED_FOR_GOOD and r["parent_run_id"] is None
            ]

    # -- incidents and their deliveries, in one transaction ------------------------------------

    def open_incident(self, incident: dict[str, Any], build: BuildDeliveries) -> int | None:
        """Record the incident open with its deliveries; None when one with its key is already open."""
        claim = (
            self._insert(alert_incidents).values(**incident).on_conflict_do_nothing().returning(alert_incidents.c.id)
        )
        with self.engine.begin() as conn:
            row = conn.execute(claim).first()
            if row is None:
                return None
            incident_id = int(row[0])
            deliveries = list(build(incident_id))
            if deliveries:
                conn.execute(insert(alert_deliveries), deliveries)
        return incident_id

    def resolve_incident(self, incident_id: int, resolved_at: datetime, build: BuildDeliveries) -> bool:
        """Record the open incident resolved with its deliveries; False when it was no longer open."""
        guarded = (
            update(alert_incidents)
            .where(alert_incidents.c.id == incident_id, alert_incidents.c.resolved_at.is_(None))
            .values(resolved_at=resolved_at)
            .returning(alert_incidents.c.id)
        )
        with self.engine.begin() as conn:
            if conn.execute(guarded).first() is None:
                return False
            deliveries = list(build(incident_id))
            if deliveries:
                conn.execute(insert(alert_deliveries), deliveries)
        return True

    def add_delivery(self, delivery: dict[str, Any]) -> None:
        """One delivery of no incident (``harvester alerts test``)."""
        with self.engine.begin() as conn:
            conn.execute(insert(alert_deliveries).values(**delivery))

    # -- the delivery loop ---------------------------------------------------------------------

    def claim_due(self, now: datetime, lease: timedelta, limit: int = 50) -> list[dict[str, Any]]:
        """Pending deliveries due by ``now``, each claimed for ``lease`` (another loop skips it meanwhile)."""
        query = (
            select(alert_deliveries)
            .where(alert_deliveries.c.status == PENDING, alert_deliveries.c.next_attempt_at <= now)
            .order_by(alert_deliveries.c.next_attempt_at)
            .limit(limit)
        )
        claimed = []
        with self._read.connect() as conn:
            due = [dict(r) for r in conn.execute(query).mappings()]
        for delivery in due:
            guarded = (
                update(alert_deliveries)
                .where(
                    alert_deliveries.c.id == delivery["id"],
                    alert_deliveries.c.status == PENDING,
                    alert_deliveries.c.next_attempt_at == delivery["next_attempt_at"],
                )
                .values(next_attempt_at=now + lease)
                .returning(alert_deliveries.c.id)
            )
            with self.engine.begin() as conn:
                if conn.execute(guarded).first() is not None:
                    claimed.append(delivery)
        return claimed

    def record_attempt(
        self,
        delivery_id: str,
        attempt: dict[str, Any],
        *,
        status: str,
        next_attempt_at: datetime | None,
    ) -> None:
        """The attempt (attempt, started_at, duration, ok, error) and the delivery's new state, together."""
        finished = None if status == PENDING else aware(attempt["started_at"]) + timedelta(seconds=attempt["duration"])
        with self.engine.begin() as conn:
            conn.execute(insert(alert_attempts).values(delivery_id=delivery_id, **attempt))
            conn.execute(
                update(alert_deliveries)
                .where(alert_deliveries.c.id == delivery_id)
                .values(
                    attempts=attempt["attempt"],
                    status=status,
                    next_attempt_at=next_attempt_at,
                    finished_at=finished,
                    last_error=attempt["error"],
                )
            )

    def prune(self, before: datetime) -> int:
        """Delete incidents resolved before ``before`` and their alerts and attempts, and tests sent
        before it; never an open incident nor an alert still pending. How many incidents and tests went."""
        old_incidents = select(alert_incidents.c.id).where(alert_incidents.c.resolved_at < before)
        old_deliveries = select(alert_deliveries.c.id).where(
            alert_deliveries.c.incident_id.in_(old_incidents)
            | (
                alert_deliveries.c.incident_id.is_(None)
                & (alert_deliveries.c.created_at < before)
                & (alert_deliveries.c.status != PENDING)
            )
        )
        with self.engine.begin() as conn:
            conn.execute(delete(alert_attempts).where(alert_attempts.c.delivery_id.in_(old_deliveries)))
            tests = conn.execute(
                delete(alert_deliveries).where(
                    alert_deliveries.c.incident_id.is_(None),
                    alert_deliveries.c.created_at < before,
                    alert_deliveries.c.status != PENDING,
                )
            ).rowcount
            conn.execute(delete(alert_deliveries).where(alert_deliveries.c.incident_id.in_(old_incidents)))
            incidents = conn.execute(delete(alert_incidents).where(alert_incidents.c.resolved_at < before)).rowcount
        return int(incidents) + int(tests)

    # -- what people read ----------------------------------------------------------------------

    def delivery(self, delivery_id: str) -> dict[str, Any] | None:
        with self._read.connect() as conn:
            row = conn.execute(select(alert_deliveries).where(alert_deliveries.c.id == delivery_id)).mappings().first()
            return dict(row) if row is not None else None

    def incidents(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest incidents first."""
        query = select(alert_incidents).order_by(alert_incidents.c.opened_at.desc(), alert_incidents.c.id.desc())
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(query.limit(limit)).mappings()]

    def deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest deliveries first."""
        query = select(alert_deliveries).order_by(alert_deliveries.c.created_at.desc()).limit(limit)
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def attempts(self, delivery_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The attempts of these deliveries, in order."""
        if not delivery_ids:
            return []
        query = (
            select(alert_attempts)
            .where(alert_attempts.c.delivery_id.in_(list(delivery_ids)))
            .order_by(alert_attempts.c.delivery_id, alert_attempts.c.attempt)
        )
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        """(target, status) -> deliveries; what /metrics counts."""
        query = select(alert_deliveries.c.target, alert_deliveries.c.status, func.count()).group_by(
            alert_deliveries.c.target, alert_deliveries.c.status
        )
        with self._read.connect() as conn:
            return {(t, s): int(n) for t, s, n in conn.execute(query)}

    def attempt_counts(self) -> dict[bool, int]:
        """Delivery attempts by outcome (True: taken by the target)."""
        query = select(alert_attempts.c.ok, func.count()).group_by(alert_attempts.c.ok)
        with self._read.connect() as conn:
            return {bool(ok): int(n) for ok, n in conn.execute(query)}


__all__ = ["DELIVERED", "GAVE_UP", "PENDING", "AlertStore", "BuildDeliveries"]
