"""Schedule occurrences and their runs, recorded in one transaction (so two schedulers, a crash or a
failed write can neither lose an occurrence nor leave it claimed without its runs): all the
occurrences due at one tick together, claimed a chunk per statement, their runs by one COPY."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, TableValuedAlias, Text, bindparam, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from harvester.history.engine import aware, utcnow
from harvester.history.lifecycle import NewRun, RunLifecycle
from harvester.history.models import UTCDateTime, occurrences

log = logging.getLogger(__name__)

#: Builds an occurrence's runs, only once this scheduler won it: the runs, and a note (why none).
BuildRuns = Callable[[], tuple[Sequence[NewRun], str | None]]


#: Occurrences claimed per statement (bound parameters stay under SQLite's and PostgreSQL's limits).
CLAIM_CHUNK = 2000


@dataclass(frozen=True)
class DueOccurrence:
    """An entry's occurrence to claim, and how to build its runs once claimed."""

    entry_key: str
    due_at: datetime
    build: BuildRuns


class OccurrenceStore(RunLifecycle):
    def dispatch_occurrence(self, entry_key: str, due_at: datetime, build: BuildRuns) -> list[NewRun] | None:
        """:meth:`dispatch_occurrences` of one occurrence."""
        return self.dispatch_occurrences([DueOccurrence(entry_key, due_at, build)])[0]

    def dispatch_occurrences(self, due: Sequence[DueOccurrence]) -> list[list[NewRun] | None]:
        """Claim occurrences and record the runs of those won, all in one transaction; per
        occurrence, its runs, or None when another scheduler already has it.

        ``build`` runs only for an occurrence this scheduler won (a ``when`` predicate or
        ``targets()`` runs in the winner only). An error in ``build`` is recorded as the
        occurrence's note, with no runs: it is dealt with, not retried every second. A database
        error rolls everything back and is raised: the caller tries them all again.
        """
        if not due:
            return []
        now = utcnow()
        claim = (
            self._insert(occurrences).on_conflict_do_nothing().returning(occurrences.c.entry_key, occurrences.c.due_at)
        )
        postgres = self.engine.dialect.name == "postgresql"
        with self.engine.begin() as conn:
            won: set[tuple[str, datetime]] = set()
            if postgres:  # one statement, however many: the rows go as two arrays
                keys, dues = [d.entry_key for d in due], [d.due_at for d in due]
                won.update(
                    (key, aware(at))
                    for key, at in conn.execute(_CLAIM_ARRAYS, {"keys": keys, "dues": dues, "now": now})
                )
            for start in range(0, 0 if postgres else len(due), CLAIM_CHUNK):
                rows = [
                    {"entry_key": d.entry_key, "due_at": d.due_at, "dispatched_at": now}
                    for d in due[start : start + CLAIM_CHUNK]
                ]
                won.update((key, aware(at)) for key, at in conn.execute(claim, rows))
            made: list[list[NewRun] | None] = []
            notes: list[dict[str, Any]] = []
            for item in due:
                if (item.entry_key, item.due_at) not in won:
                    made.append(None)
                    continue
                new, note = _build(item)
                made.append(new)
                notes.append(
                    {
                        "b_key": item.entry_key,
                        "b_due": item.due_at,
                        "run_id": new[0].run_id if new else None,
                        "note": note,
                    }
                )
            self.create_runs([run for runs in made if runs for run in runs], conn)
            if notes and postgres:
                columns = {"keys": "b_key", "dues": "b_due", "runs": "run_id", "notes": "note"}
                conn.execute(_NOTE_ARRAYS, {name: [n[field] for n in notes] for name, field in columns.items()})
            elif notes:
                conn.execute(_NOTE, notes)
        return made


_NOTE = (
    update(occurrences)
    .where(occurrences.c.entry_key == bindparam("b_key"), occurrences.c.due_at == bindparam("b_due"))
    .values(run_id=bindparam("run_id"), note=bindparam("note"))
)


def _arrays(**columns: TypeEngine[Any]) -> TableValuedAlias:
    """``unnest`` of one array parameter per column (PostgreSQL): many rows as one statement's input."""
    arrays = [bindparam(name, type_=postgresql.ARRAY(type_)) for name, type_ in columns.items()]
    return func.unnest(*arrays).table_valued(*columns).render_derived()


_CLAIMED = _arrays(keys=String(), dues=UTCDateTime())
_CLAIM_ARRAYS = (
    postgresql.insert(occurrences)
    .from_select(
        ["entry_key", "due_at", "dispatched_at"],
        select(_CLAIMED.c["keys"], _CLAIMED.c["dues"], bindparam("now", type_=UTCDateTime())),
    )
    .on_conflict_do_nothing()
    .returning(occurrences.c.entry_key, occurrences.c.due_at)
)
_NOTED = _arrays(keys=String(), dues=UTCDateTime(), runs=String(), notes=Text())
_NOTE_ARRAYS = (
    update(occurrences)
    .where(occurrences.c.entry_key == _NOTED.c["keys"], occurrences.c.due_at == _NOTED.c["dues"])
    .values(run_id=_NOTED.c["runs"], note=_NOTED.c["notes"])
)


def _build(item: DueOccurrence) -> tuple[list[NewRun], str | None]:
    try:
        new, note = item.build()
    except Exception as exc:
        log.exception("schedule entry %s: its runs at %s could not be built", item.entry_key, item.due_at)
        return [], f"not dispatched: {type(exc).__name__}: {exc}"
    return list(new), note
