"""Reads of ``collector_summary``: what ended how often per collector and schedule entry, the newest
run and success of each, duration histograms. Each costs O(summary rows), however long the history.

The database keeps the table (triggers of migration 0013, in the transaction of each transition
into a final status or ``retrying``); nothing here writes it. Counts are lifetime counts: pruning
runs does not lower them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, union_all

from harvester.history.engine import Database, aware
from harvester.history.models import DURATION_BUCKETS, collector_summary, runs
from harvester.history.states import FAILED, LOCKING, PENDING, SUCCEEDED

#: Statuses whose durations the histogram counts (a skipped or cancelled run did no work).
TIMED_STATUSES = (SUCCEEDED.value, FAILED.value)
#: Newest-run seeks per statement.
CHUNK = 100
_BUCKETS = [collector_summary.c[f"le_{i}"] for i in range(len(DURATION_BUCKETS))]


@dataclass
class Tally:
    """Runs of one collector (and entry) that reached one status with one error category."""

    runs: int = 0
    timed: int = 0
    duration_sum: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))  # cumulative, per bound
    records: int = 0
    last_run_id: str | None = None
    last_finished_at: datetime | None = None

    @classmethod
    def of(cls, row: Row[Any]) -> Tally:
        finished = aware(row.last_finished_at) if row.last_finished_at is not None else None
        return cls(
            int(row.runs),
            int(row.timed),
            float(row.duration_sum),
            [int(getattr(row, c.name)) for c in _BUCKETS],
            int(row.records),
            row.last_run_id,
            finished,
        )

    def merge(self, other: Tally) -> None:
        self.runs += other.runs
        self.timed += other.timed
        self.duration_sum += other.duration_sum
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
        self.records += other.records
        when = other.last_finished_at
        if when is not None and (self.last_finished_at is None or when > self.last_finished_at):
            self.last_run_id, self.last_finished_at = other.last_run_id, when


#: (collector, entry key or "", status, category or "") -> its tally, shards summed.
Summary = dict[tuple[str, str, str, str], Tally]


def _read(conn: Connection, collectors: Iterable[str] | None = None) -> Summary:
    query = select(collector_summary)
    if collectors is not None:
        query = query.where(collector_summary.c.collector.in_(list(collectors)))
    found: Summary = defaultdict(Tally)
    for row in conn.execute(query):
        found[row.collector, row.entry_key, row.status, row.category].merge(Tally.of(row))
    return dict(found)


class SummaryReads(Database):
    def summary(self, collectors: Iterable[str] | None = None) -> Summary:
        """Every summary row (of ``collectors`` when given), shards summed."""
        with self._read.connect() as conn:
            return _read(conn, collectors)

    def collector_successes(self) -> dict[str, datetime]:
        """When each collector last succeeded (any params, scheduled or not)."""
        return newest(self.summary(), SUCCEEDED.value)

    def last_runs(self, collectors: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """The newest run (by ``queued_at``) of each collector: of ``collectors``, or of every one that
        has a run (the summary's and those with a run not ended). One index seek per collector."""
        with self._read.connect() as conn:
            if collectors is None:
                unended = select(runs.c.collector).where(runs.c.status.in_([s.value for s in (*PENDING, *LOCKING)]))
                names = {row[0] for row in conn.execute(select(collector_summary.c.collector).distinct())}
                names |= {row[0] for row in conn.execute(unended.distinct())}
            else:
                names = set(collectors)
            ordered = sorted(names)
            found: dict[str, dict[str, Any]] = {}
            for start in range(0, len(ordered), CHUNK):
                parts = [
                    select(runs)
                    .where(runs.c.collector == name)
                    .order_by(runs.c.queued_at.desc(), runs.c.id.desc())
                    .limit(1)
                    .subquery()
                    .select()
                    for name in ordered[start : start + CHUNK]
                ]
                found.update({r["collector"]: dict(r) for r in conn.execute(union_all(*parts)).mappings()})
        return found


def newest(summary: Summary, status: str | None = None) -> dict[str, datetime]:
    """Per collector, when its newest run ended (with ``status``, when given)."""
    folded = by_collector(summary, None if status is None else [status])
    return {c: t.last_finished_at for c, t in folded.items() if t.last_finished_at is not None}


def by_collector(summary: Summary, statuses: Iterable[str] | None = None) -> dict[str, Tally]:
    """The summary folded per collector (entries and categories summed), of ``statuses`` when given."""
    wanted = set(statuses) if statuses is not None else None
    folded: dict[str, Tally] = defaultdict(Tally)
    for (collector, _entry, status, _category), tally in summary.items():
        if wanted is not None and status not in wanted:
            continue
        folded[collector].merge(tally)
    return dict(folded)
