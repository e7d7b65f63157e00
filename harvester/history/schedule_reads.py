"""What history says about the schedule: each entry's last success and each group's last batch.

No read grows with the history: each entry's newest success is one statement over
``collector_summary`` (kept by the database as runs end, migration 0013), a group's newest batch the
top of ``(schedule_group, batch_id)`` (batch ids sort by when the batch was made), and that batch's
runs a range of the same index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, func, or_, select

from harvester.history.engine import Database, aware
from harvester.history.models import collector_summary, runs
from harvester.history.states import SUCCEEDED
from harvester.schedule.groups import UNFINISHED, Batch

#: Scalar subqueries per statement (one per entry or group).
CHUNK = 100
#: Migration 0008 gave the scheduled successes recorded before it this entry key: they count for
#: every entry of their collector and params until the entry has a success of its own.
LEGACY_KEY = "before-0008:{collector}:{params_key}"


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


#: Each schedule entry's newest success: one row per entry key that ever succeeded.
_SUCCESSES = (
    select(collector_summary.c.entry_key, func.max(collector_summary.c.last_finished_at))
    .where(collector_summary.c.status == SUCCEEDED.value, collector_summary.c.entry_key != "")
    .group_by(collector_summary.c.entry_key)
)


def _newest_batch(group: str) -> ScalarSelect[str]:
    return select(func.max(runs.c.batch_id)).where(runs.c.schedule_group == group).scalar_subquery()


class ScheduleReads(Database):
    def _scalars(self, items: Sequence[str], subquery: Callable[[str], ScalarSelect[Any]]) -> dict[str, Any]:
        """``subquery(item)`` for each item, a statement per :data:`CHUNK`; items it found nothing for left out."""
        found: dict[str, Any] = {}
        with self._read.connect() as conn:
            for chunk in _chunks(items):
                row = conn.execute(select(*(subquery(item).label(f"c{i}") for i, item in enumerate(chunk)))).one()
                found.update({item: value for item, value in zip(chunk, row, strict=True) if value is not None})
        return found

    def entry_successes(self, entries: Mapping[str, tuple[str, str]]) -> dict[str, datetime]:
        """When each schedule entry last succeeded; ``entries``: entry key -> (collector, params key).

        Only runs of that entry count (its group, collector, params and schedule): not a run by hand, not
        the same collector in another group. Successes recorded before migration 0008 count for every
        entry of their collector and params, until the entry has one of its own.

        One statement, whatever the number of entries (beat's alert loop asks for every entry of
        the schedule): the summary's rows of successes, filtered here. Like the summary, it remembers
        a success whose run was pruned since."""
        if not entries:
            return {}
        with self._read.connect() as conn:
            newest = {key: when for key, when in conn.execute(_SUCCESSES) if when is not None}
        found: dict[str, datetime] = {}
        for key, (collector, params_key) in entries.items():
            when = newest.get(key) or newest.get(LEGACY_KEY.format(collector=collector, params_key=params_key))
            if when is not None:
                found[key] = aware(when)
        return found

    def last_batches(self, groups: Sequence[str]) -> dict[str, Batch]:
        """Each group's newest batch (groups that never ran left out): when, and its runs by status."""
        newest = {g: str(b) for g, b in self._scalars(list(groups), _newest_batch).items()}
        if not newest:
            return {}
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        started: dict[str, datetime] = {}
        ended: dict[str, datetime] = {}
        with self._read.connect() as conn:
            for chunk in _chunks(list(newest)):
                which: list[ColumnElement[bool]] = [
                    and_(runs.c.schedule_group == g, runs.c.batch_id == newest[g]) for g in chunk
                ]
                query = (
                    select(
                        runs.c.schedule_group,
                        runs.c.status,
                        func.count(),
                        func.min(runs.c.queued_at),
                        func.max(runs.c.finished_at),
                    )
                    .where(or_(*which))
                    .group_by(runs.c.schedule_group, runs.c.status)
                )
                for group, status, n, first, last in conn.execute(query):
                    counts[group][status] = int(n)
                    started[group] = min(aware(first), started.get(group, aware(first)))
                    if last is not None:
                        ended[group] = max(aware(last), ended.get(group, aware(last)))
        return {
            g: Batch(
                newest[g],
                started[g],
                None if any(s in UNFINISHED for s in counts[g]) else ended.get(g),
                counts[g],
            )
            for g in counts
        }
