"""Read-only aggregates of the run history for the dashboard: success rate and median duration per
collector, each collector's latest runs, a collector's outcomes per day, how many runs match a filter.

Each is one SQL statement (window functions and ``CASE`` sums, which SQLite and PostgreSQL both
have), so the overview costs a fixed number of round trips however many runs there are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from statistics import median
from typing import Any

from sqlalchemy import Engine, and_, case, func, select, union_all

from harvester.history.engine import READ_ONLY
from harvester.history.models import runs
from harvester.history.store import Store, run_filters

#: Finished outcomes that say whether a collector works (``skipped`` says nothing about it).
_VERDICTS = ("succeeded", "failed")


@dataclass(frozen=True)
class CollectorStats:
    """One collector's finished runs since a moment: how many, how many succeeded, median duration."""

    finished: int
    succeeded: int
    p50_duration: float | None

    @property
    def success_rate(self) -> float | None:
        """Succeeded / (succeeded + failed); None without a finished run."""
        return self.succeeded / self.finished if self.finished else None


def _reader(store: Store) -> Engine:
    """Reads never queue behind SQLite's write lock."""
    return store.engine.execution_options(**{READ_ONLY: True})


def collector_stats(store: Store, since: datetime) -> dict[str, CollectorStats]:
    """Per collector, the runs queued since ``since`` that succeeded or failed.

    The median is the mean of the one or two middle durations, ranked by ``row_number()``
    (portable where ``percentile_cont`` is not: SQLite has none).
    """
    finished = and_(runs.c.queued_at >= since, runs.c.status.in_(_VERDICTS))
    ranked = (
        select(
            runs.c.collector,
            runs.c.duration,
            func.row_number().over(partition_by=runs.c.collector, order_by=runs.c.duration).label("rank"),
            func.count().over(partition_by=runs.c.collector).label("n"),
        )
        .where(finished, runs.c.duration.is_not(None))
        .subquery()
    )
    medians = (
        select(ranked.c.collector, func.avg(ranked.c.duration))
        .where(ranked.c.rank.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2]))
        .group_by(ranked.c.collector)
    )
    counts = (
        select(runs.c.collector, func.count(), func.sum(case((runs.c.status == "succeeded", 1), else_=0)))
        .where(finished)
        .group_by(runs.c.collector)
    )
    with _reader(store).connect() as conn:
        p50 = {collector: float(value) for collector, value in conn.execute(medians)}
        return {
            collector: CollectorStats(int(total), int(ok or 0), p50.get(collector))
            for collector, total, ok in conn.execute(counts)
        }


def recent_runs(store: Store, collectors: Iterable[str], per_collector: int) -> dict[str, list[dict[str, Any]]]:
    """The latest ``per_collector`` runs of each of ``collectors``, oldest first (the overview's bar).

    One ``LIMIT`` per collector, joined by ``UNION ALL``: each part reads the newest rows of the
    (collector, queued_at) index, so the cost does not grow with the length of the history.
    """
    columns = (
        runs.c.collector,
        runs.c.id,
        runs.c.status,
        runs.c.queued_at,
        runs.c.duration,
        runs.c.cpu_seconds,
        runs.c.peak_memory,
    )
    parts = [
        select(*columns)
        .where(runs.c.collector == name)
        .order_by(runs.c.queued_at.desc(), runs.c.id.desc())
        .limit(per_collector)
        .subquery()
        .select()
        for name in collectors
    ]
    found: dict[str, list[dict[str, Any]]] = {}
    if not parts:
        return found
    with _reader(store).connect() as conn:
        for row in conn.execute(union_all(*parts)).mappings():
            found.setdefault(row["collector"], []).insert(0, dict(row))
    return found


@dataclass(frozen=True)
class Usage:
    """What a collector's recent runs cost (their last attempts): median and largest CPU seconds and
    peak memory in bytes, over the ``runs`` that report them (None: none does)."""

    runs: int
    cpu_median: float | None
    cpu_max: float | None
    memory_median: float | None
    memory_max: int | None


def usage_of(rows: Iterable[dict[str, Any]]) -> Usage:
    """The :class:`Usage` of some runs (rows with ``cpu_seconds`` and ``peak_memory``)."""
    cpu = [r["cpu_seconds"] for r in rows if r.get("cpu_seconds") is not None]
    memory = [r["peak_memory"] for r in rows if r.get("peak_memory") is not None]
    return Usage(
        max(len(cpu), len(memory)),
        median(cpu) if cpu else None,
        max(cpu, default=None),
        median(memory) if memory else None,
        max(memory, default=None),
    )


def count_runs(store: Store, *, collector: str | None = None, status: str | None = None) -> int:
    """How many runs match the run list's filters (its pages come from ``queries.page_runs``)."""
    query = select(func.count()).select_from(runs).where(*run_filters(collector=collector, status=status))
    with _reader(store).connect() as conn:
        return int(conn.execute(query).scalar_one())


@dataclass(frozen=True)
class DayOutcomes:
    """One UTC day of a collector's finished runs (queued that day)."""

    day: date
    succeeded: int
    failed: int

    @property
    def success_rate(self) -> float | None:
        return success_share(self.succeeded, self.failed)


def success_share(succeeded: int, failed: int) -> float | None:
    """Succeeded / (succeeded + failed); None without a verdict."""
    total = succeeded + failed
    return succeeded / total if total else None


def daily_outcomes(store: Store, collector: str, since: datetime) -> list[DayOutcomes]:
    """Succeeded and failed runs per UTC day since ``since``, oldest first; days without a verdict
    are left out. One grouped read of the (collector, queued_at) index range: bounded by the
    window, not by the length of the history."""
    moment: Any = runs.c.queued_at
    if store.engine.dialect.name == "postgresql":
        moment = func.timezone("UTC", moment)  # the day in UTC, whatever the session's zone
    day = func.date(moment).label("day")
    query = (
        select(
            day,
            func.sum(case((runs.c.status == "succeeded", 1), else_=0)),
            func.sum(case((runs.c.status == "failed", 1), else_=0)),
        )
        .where(runs.c.collector == collector, runs.c.queued_at >= since, runs.c.status.in_(_VERDICTS))
        .group_by(day)
        .order_by(day)
    )
    with _reader(store).connect() as conn:
        return [
            DayOutcomes(value if isinstance(value, date) else date.fromisoformat(str(value)), int(ok), int(bad))
            for value, ok, bad in conn.execute(query)
        ]
