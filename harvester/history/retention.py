"""Retention: delete what history no longer needs, in small transactions, never a flow that runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, or_, select

from harvester.history.models import occurrences, run_attempts, run_logs, runs
from harvester.history.states import FINISHED
from harvester.history.sweep import SweepStore

_DELETE_OCCURRENCE = delete(occurrences).where(
    occurrences.c.entry_key == bindparam("b_key"), occurrences.c.due_at == bindparam("b_due")
)


class RetentionStore(SweepStore):
    def prune(self, older_than: datetime, batch: int = 500) -> int:
        """Delete finished runs queued before ``older_than``, ``batch`` per transaction (so a SQLite
        write lock is held for a moment at a time); returns how many went.

        A member of a fan-out whose parent has not ended stays, and so does a parent with a member
        that has not ended: retention never takes part of a running flow away."""
        finished = [s.value for s in FINISHED]
        parent, child = runs.alias("parent"), runs.alias("child")
        open_parent = select(parent.c.id).where(parent.c.id == runs.c.parent_run_id, parent.c.status.not_in(finished))
        # a parent goes with (or after) its members: none of them may be open or younger than the cutoff
        open_child = select(child.c.id).where(
            child.c.parent_run_id == runs.c.id, or_(child.c.status.not_in(finished), child.c.queued_at >= older_than)
        )
        old = (
            select(runs.c.id)
            .where(
                runs.c.queued_at < older_than, runs.c.status.in_(finished), ~open_parent.exists(), ~open_child.exists()
            )
            .limit(batch)
        )
        removed = 0
        while True:
            with self.engine.begin() as conn:
                ids = list(conn.execute(old).scalars())
                if not ids:
                    return removed
                conn.execute(delete(run_attempts).where(run_attempts.c.run_id.in_(ids)))
                conn.execute(delete(run_logs).where(run_logs.c.run_id.in_(ids)))
                removed += conn.execute(delete(runs).where(runs.c.id.in_(ids))).rowcount
            if len(ids) < batch:
                return removed

    def prune_occurrences(self, older_than: datetime, batch: int = 500) -> int:
        """Delete schedule occurrences due before ``older_than``, keeping each entry's latest (where
        a restarted scheduler resumes)."""
        newer = occurrences.alias("newer")
        later_exists = select(newer.c.due_at).where(
            newer.c.entry_key == occurrences.c.entry_key, newer.c.due_at > occurrences.c.due_at
        )
        old = (
            select(occurrences.c.entry_key, occurrences.c.due_at)
            .where(occurrences.c.due_at < older_than, later_exists.exists())
            .limit(batch)
        )
        removed = 0
        while True:
            with self.engine.begin() as conn:
                keys = [{"b_key": key, "b_due": due} for key, due in conn.execute(old)]
                if keys:
                    conn.execute(_DELETE_OCCURRENCE, keys)
                removed += len(keys)
            if len(keys) < batch:
                return removed
