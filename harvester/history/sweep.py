"""What recovery reads and claims: attempts whose process died, due runs nobody delivered, and due
runs that expired before anyone started them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from harvester.history.fanout import FanOutStore
from harvester.history.lifecycle import expired_values, is_expired, not_expired
from harvester.history.models import runs
from harvester.history.states import PENDING, RunStatus


class SweepStore(FanOutStore):
    def lost_runs(self, stale_before: datetime) -> list[dict[str, Any]]:
        """Runs marked running whose heartbeat stopped before ``stale_before``."""
        with self._read.connect() as conn:
            rows = conn.execute(
                select(runs).where(runs.c.status == RunStatus.RUNNING.value, runs.c.heartbeat_at < stale_before)
            ).mappings()
            return [dict(r) for r in rows]

    def claim_overdue(self, overdue_before: datetime, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
        """Queued or retrying runs due before ``overdue_before``, oldest first: their message went
        missing (a failed publish, a lost countdown, a batch that died). Each is stamped due ``now``
        in the same statement, so of several sweepers exactly one re-sends it, once per grace period."""
        pending = [s.value for s in PENDING]
        probe = select(runs.c.id).where(
            runs.c.status.in_(pending), runs.c.next_attempt_at < overdue_before, not_expired(now)
        )
        with self._read.connect() as conn:  # the common answer is "none": no write lock for it
            if conn.execute(probe.limit(1)).first() is None:
                return []
        overdue = probe.order_by(runs.c.next_attempt_at).limit(limit)
        if self.engine.dialect.name == "postgresql":
            overdue = overdue.with_for_update(skip_locked=True)
        statement = (
            update(runs)
            .where(runs.c.id.in_(overdue.scalar_subquery()), runs.c.status.in_(pending))
            .where(runs.c.next_attempt_at < overdue_before)
            .values(next_attempt_at=now)
            .returning(*runs.c)
        )
        with self.engine.begin() as conn:
            rows = [dict(r) for r in conn.execute(statement).mappings()]
        rows.sort(key=lambda r: (r["queued_at"], r["member_index"] or 0))
        return rows

    def expire_due(self, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
        """Record ``expired`` the due runs that never started and whose expiry passed by ``now`` (at
        most ``limit``, oldest first): they are not sent again. Returns them (id, collector, parent),
        so that an expired fan-out member can be counted into its parent."""
        expired = is_expired(now)
        probe = select(runs.c.id).where(*expired)
        with self._read.connect() as conn:
            if conn.execute(probe.limit(1)).first() is None:
                return []
        due = probe.order_by(runs.c.expires_at).limit(limit)
        if self.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(runs)
            .where(runs.c.id.in_(due.scalar_subquery()), *expired)
            .values(expired_values(now))
            .returning(runs.c.id, runs.c.collector, runs.c.parent_run_id)
        )
        with self.engine.begin() as conn:
            rows = [dict(r) for r in conn.execute(statement).mappings()]
            for row in rows:
                row["parent_done"] = self._count(conn, row["parent_run_id"])
        return rows
