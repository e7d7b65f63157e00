"""Read queries of the HTTP API: keyset pages of runs and records, a run's children, a liveness
probe, and the aggregates ``/metrics`` derives from history at scrape time (so every process reports the same):
lifetime totals from the summary table, and the runs in flight."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, false, func, or_, select, text

from harvester.history.engine import READ_ONLY, aware
from harvester.history.models import DURATION_BUCKETS, runs
from harvester.history.models import records as records_table
from harvester.history.states import FINISHED, LOCKING, PENDING, RETRYING, SUCCEEDED
from harvester.history.store import Store, run_filters
from harvester.history.summary import TIMED_STATUSES, Summary, Tally, by_collector, newest

#: Final statuses as strings (the summary's keys).
FINISHED_VALUES = tuple(s.value for s in FINISHED)


class CursorError(ValueError):
    """A page cursor that this module did not make."""


def _reader(store: Store) -> Engine:
    return store.engine.execution_options(**{READ_ONLY: True})


def encode_cursor(row: dict[str, Any], time_field: str = "queued_at") -> str:
    """Opaque position after ``row`` in newest-first order: its time and id."""
    raw = f"{aware(row[time_field]).isoformat()}|{row['id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, run_id = raw.split("|", 1)
        return aware(datetime.fromisoformat(when)), run_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise CursorError("cursor is not one this API returned") from exc


@dataclass(frozen=True)
class RunPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def page_runs(
    store: Store,
    *,
    collector: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
    batch: str | None = None,
) -> RunPage:
    """Runs newest first, ``limit`` at a time; ``next_cursor`` continues after the last one (keyset:
    stable while new runs arrive, and as cheap on page 1,000 as on page 1). ``batch``: the runs of
    one batch (a backfill's ``backfill:...`` or a schedule group's)."""
    conditions = run_filters(collector=collector, status=status, since=since)
    if batch:
        conditions.append(runs.c.batch_id == batch if "\x00" not in batch else false())
    if cursor:
        when, run_id = decode_cursor(cursor)
        conditions.append(or_(runs.c.queued_at < when, and_(runs.c.queued_at == when, runs.c.id < run_id)))
    query = select(runs).where(*conditions).order_by(runs.c.queued_at.desc(), runs.c.id.desc()).limit(limit + 1)
    with _reader(store).connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return RunPage(rows, encode_cursor(rows[-1]) if more and rows else None)


@dataclass(frozen=True)
class RecordPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def page_records(
    store: Store, collector: str, *, key: str | None = None, cursor: str | None = None, limit: int = 50
) -> RecordPage:
    """A collector's records, last changed first, ``limit`` at a time; ``key`` keeps those whose key
    starts with it. Keyset pages on (last_seen, id), like :func:`page_runs`."""
    conditions: list[ColumnElement[bool]] = [
        records_table.c.collector == collector if "\x00" not in collector else false()
    ]
    if key:
        conditions.append(records_table.c.key.startswith(key.replace("\x00", ""), autoescape=True))
    if cursor:
        when, ident = decode_cursor(cursor)
        if not ident.isdigit():
            raise CursorError("cursor is not one this API returned")
        conditions.append(
            or_(
                records_table.c.last_seen < when,
                and_(records_table.c.last_seen == when, records_table.c.id < int(ident)),
            )
        )
    query = (
        select(records_table)
        .where(*conditions)
        .order_by(records_table.c.last_seen.desc(), records_table.c.id.desc())
        .limit(limit + 1)
    )
    with _reader(store).connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return RecordPage(rows, encode_cursor(rows[-1], "last_seen") if more and rows else None)


def ping(store: Store) -> None:
    """One round trip to the database; raises when it does not answer."""
    with _reader(store).connect() as conn:
        conn.execute(text("SELECT 1"))


# -- metrics aggregates ---------------------------------------------------------------------


@dataclass(frozen=True)
class DurationStats:
    collector: str
    buckets: list[tuple[float, int]]  # cumulative counts per upper bound
    count: int
    total: float


@dataclass(frozen=True)
class MetricsSnapshot:
    """What ``/metrics`` reports, each a handful of grouped rows however long the history."""

    runs: list[tuple[str, str, str, int]]  # collector, status, category ("" when none), count
    durations: list[DurationStats]
    records: dict[str, int]
    last_success: dict[str, datetime]
    retries: dict[str, int]


def metrics_snapshot(store: Store, buckets: Sequence[float] = DURATION_BUCKETS) -> MetricsSnapshot:
    """Lifetime totals from ``collector_summary`` (O(collectors)), and the runs not ended yet by
    status (O(runs in flight): a seek of the status index per status)."""
    if tuple(buckets) != DURATION_BUCKETS:
        raise ValueError(f"the summary keeps the buckets {DURATION_BUCKETS}, not {tuple(buckets)}")
    summary = store.summary()
    active = (
        select(runs.c.collector, runs.c.status, func.count())
        .where(runs.c.status.in_([s.value for s in (*PENDING, *LOCKING)]))
        .group_by(runs.c.collector, runs.c.status)
    )
    with _reader(store).connect() as conn:
        unended = [(c, s, "", int(n)) for c, s, n in conn.execute(active)]
    ended = [(c, s, cat, t.runs) for (c, _e, s, cat), t in _by_category(summary).items() if s in FINISHED_VALUES]
    timed = by_collector(summary, TIMED_STATUSES)
    return MetricsSnapshot(
        runs=sorted(ended) + unended,
        durations=[
            DurationStats(c, list(zip(buckets, t.buckets, strict=True)), t.timed, t.duration_sum)
            for c, t in sorted(timed.items())
            if t.timed
        ],
        records={c: t.records for c, t in by_collector(summary, FINISHED_VALUES).items()},
        last_success=newest(summary, SUCCEEDED.value),
        retries={c: t.runs for c, t in by_collector(summary, [RETRYING.value]).items()},
    )


def _by_category(summary: Summary) -> dict[tuple[str, str, str, str], Tally]:
    """Entries summed: (collector, "", status, category) -> tally."""
    folded: dict[tuple[str, str, str, str], Tally] = {}
    for (collector, _entry, status, category), tally in summary.items():
        folded.setdefault((collector, "", status, category), Tally()).merge(tally)
    return folded
