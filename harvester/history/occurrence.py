"""A schedule occurrence and its runs, recorded in one transaction (so two schedulers, a crash or a
failed write can neither lose an occurrence nor leave it claimed without its runs)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import update

from harvester.history.engine import utcnow
from harvester.history.lifecycle import NewRun, RunLifecycle
from harvester.history.models import occurrences

log = logging.getLogger(__name__)

#: Builds an occurrence's runs, only once this scheduler won it: the runs, and a note (why none).
BuildRuns = Callable[[], tuple[Sequence[NewRun], str | None]]


class OccurrenceStore(RunLifecycle):
    def dispatch_occurrence(self, entry_key: str, due_at: datetime, build: BuildRuns) -> list[NewRun] | None:
        """Claim the occurrence and record its runs (queued, due now) in one transaction.

        None when another scheduler already has it (``build`` was not called: a ``when`` predicate
        or ``targets()`` runs in the scheduler that won only). An error in ``build`` is recorded as
        the occurrence's note, with no runs: the occurrence is dealt with, not retried every second.
        A database error rolls everything back and is raised: the caller tries again.
        """
        claim = (
            self._insert(occurrences)
            .values(entry_key=entry_key, due_at=due_at, dispatched_at=utcnow())
            .on_conflict_do_nothing()
            .returning(occurrences.c.entry_key)
        )
        with self.engine.begin() as conn:
            if conn.execute(claim).first() is None:
                return None
            try:
                new, note = build()
            except Exception as exc:
                log.exception("schedule entry %s: its runs at %s could not be built", entry_key, due_at)
                new, note = [], f"not dispatched: {type(exc).__name__}: {exc}"
            self.create_runs(new, conn)
            conn.execute(
                update(occurrences)
                .where(occurrences.c.entry_key == entry_key, occurrences.c.due_at == due_at)
                .values(run_id=new[0].run_id if new else None, note=note)
            )
        return list(new)
