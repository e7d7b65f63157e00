"""Read queries of the HTTP API: keyset pages of runs and records, a run's children, a liveness
probe, and the aggregates ``/metrics`` derives from history at scrape time (so every process reports the same)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, case, false, func, or_, select, text

from harvester.history.engine import READ_ONLY, aware
from harvester.history.models import records as records_table
from harvester.history.models import run_attempts, runs
from harvester.history.store import Store, run_filters

#: Upper bounds (seconds) of the run duration histogram's buckets.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)


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
) -> RunPage:
    """Runs newest first, ``limit`` at a time; ``next_cursor`` continues after the last one (keyset:
    stable while new runs arrive, and as cheap on page 1,000 as on page 1)."""
    conditions = run_filters(collector=collector, status=status, since=since)
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
    """Aggregates over the whole history, computed in SQL (one grouped query per metric family)."""
    category = func.coalesce(runs.c.error_category, "")
    by_status = select(runs.c.collector, runs.c.status, category, func.count()).group_by(
        runs.c.collector, runs.c.status, category
    )
    timed = runs.c.duration.is_not(None)
    bucket_columns = [func.sum(case((runs.c.duration <= bound, 1), else_=0)) for bound in buckets]
    durations = (
        select(runs.c.collector, func.count(), func.sum(runs.c.duration), *bucket_columns)
        .where(timed, runs.c.status.in_(("succeeded", "failed")))
        .group_by(runs.c.collector)
    )
    records = select(runs.c.collector, func.sum(runs.c.records)).group_by(runs.c.collector)
    last_success = (
        select(runs.c.collector, func.max(runs.c.finished_at))
        .where(runs.c.status == "succeeded")
        .group_by(runs.c.collector)
    )
    retries = (
        select(runs.c.collector, func.count())
        .select_from(run_attempts.join(runs, run_attempts.c.run_id == runs.c.id))
        .where(run_attempts.c.status == "retrying")
        .group_by(runs.c.collector)
    )
    with _reader(store).connect() as conn:
        return MetricsSnapshot(
            runs=[(c, s, cat, int(n)) for c, s, cat, n in conn.execute(by_status)],
            durations=[
                DurationStats(row[0], list(zip(buckets, (int(v or 0) for v in row[3:]), strict=True)), row[1], row[2])
                for row in conn.execute(durations)
            ],
            records={c: int(n or 0) for c, n in conn.execute(records)},
            last_success={c: aware(t) for c, t in conn.execute(last_success) if t is not None},
            retries={c: int(n) for c, n in conn.execute(retries)},
        )
