"""Fan-out in history: a parent records its members and waits; the member whose end completes the
count makes the gather due, and exactly one process gathers (no Celery chord, no result backend)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update

from harvester.history.bulk import copy_rows
from harvester.history.engine import utcnow
from harvester.history.lifecycle import RunLifecycle, in_status, queued_rows, worker_name
from harvester.history.models import runs
from harvester.history.states import FAN_OUT, FINISHED, GATHER, RELEASE_GATHER, RunStatus


class FanOutStore(RunLifecycle):
    """A parent that handed out its members is ``waiting`` (holding its overlap lock, held by no
    process) until one gather claims it: the last member's end, or recovery's backstop."""

    def fan_out(self, parent_run_id: str, attempt: int, members: Sequence[Any]) -> bool:
        """Record the members as queued (due now) and the parent as waiting for them, in one
        transaction (the members by one COPY on PostgreSQL). ``members`` (NewRun) carry their
        ``parent_run_id`` and ``member_index``."""
        rows = queued_rows(members)
        with self.engine.begin() as conn:
            waiting = conn.execute(
                update(runs)
                .where(runs.c.id == parent_run_id, runs.c.attempt == attempt, in_status(FAN_OUT))
                .values(
                    status=FAN_OUT.target.value,
                    members=len(rows),
                    heartbeat_at=None,
                    progress_done=0,
                    progress_total=len(rows),
                )
                .returning(runs.c.id)
            ).first()
            if waiting is not None:
                copy_rows(conn, runs, rows)
        return waiting is not None

    def claim_gather(self, parent_run_id: str, worker: str | None = None) -> tuple[int, datetime | None] | None:
        """Make this process the one that gathers a waiting parent: its attempt and first start,
        or None if another process has it or it is done."""
        with self.single() as conn:
            row = conn.execute(
                update(runs)
                .where(runs.c.id == parent_run_id, in_status(GATHER))
                # a new attempt: a gatherer that stalled and was released can no longer finish the run
                .values(
                    status=GATHER.target.value,
                    attempt=runs.c.attempt + 1,
                    attempt_started_at=utcnow(),
                    heartbeat_at=utcnow(),
                    worker=worker or worker_name(),
                )
                .returning(runs.c.attempt, runs.c.started_at)
            ).first()
        return None if row is None else (int(row.attempt), row.started_at)

    def release_gather(self, parent_run_id: str, stale_before: datetime) -> bool:
        """Put a parent whose gathering process died back to waiting (so a new gather can claim it);
        the lost gather is kept as a ``lost`` attempt, which recovery counts."""
        statement = (
            update(runs)
            .where(
                runs.c.id == parent_run_id,
                in_status(RELEASE_GATHER),
                runs.c.members.is_not(None),
                runs.c.heartbeat_at < stale_before,
            )
            .values(status=RELEASE_GATHER.target.value, heartbeat_at=None)
        )
        with self.engine.begin() as conn:
            if self._close_attempt(conn, statement, "lost", "gathering process lost (no heartbeat)") is None:
                return False
        return True

    def members(self, parent_run_id: str) -> list[dict[str, Any]]:
        """A parent's member runs, in the order its ``subcollectors()`` gave them."""
        query = select(runs).where(runs.c.parent_run_id == parent_run_id).order_by(runs.c.member_index, runs.c.id)
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def stalled_fanouts(self, finished_before: datetime) -> list[dict[str, Any]]:
        """Waiting parents whose members all ended before ``finished_before``: their gather never came."""
        child = runs.alias("child")
        unfinished = select(child.c.id).where(
            child.c.parent_run_id == runs.c.id,
            or_(child.c.status.not_in([s.value for s in FINISHED]), child.c.finished_at >= finished_before),
        )
        query = select(runs).where(runs.c.status == RunStatus.WAITING.value, ~unfinished.exists())
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
