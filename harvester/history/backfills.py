"""Reads of a backfill: the earlier runs of its partitions (to resume), the state of the runs it
waits for, and the runs of one backfill (its batch, ``runs.batch_id``) with their counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from harvester.history.engine import READ_ONLY
from harvester.history.models import runs
from harvester.history.states import FINISHED, SUCCEEDED
from harvester.history.store import Store

#: Ids per ``IN (...)``: well under every backend's limit of bound parameters.
_CHUNK = 500


@dataclass(frozen=True)
class EarlierRun:
    """The run a partition already has: one that succeeded, or else the newest one not ended."""

    run_id: str
    status: str


def _reader(store: Store) -> Engine:
    return store.engine.execution_options(**{READ_ONLY: True})


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def earlier_runs(store: Store, collector: str, params_keys: Sequence[str]) -> dict[str, EarlierRun]:
    """params key -> its succeeded run (whatever started it), or else its newest run not ended yet;
    keys with neither are left out (they are to run)."""
    found: dict[str, EarlierRun] = {}
    columns = (runs.c.id, runs.c.params_key, runs.c.status)
    with _reader(store).connect() as conn:
        for chunk in _chunks(list(params_keys)):
            query = (
                select(*columns)
                .where(runs.c.collector == collector, runs.c.params_key.in_(chunk))
                .where(runs.c.status.not_in([s.value for s in FINISHED if s != SUCCEEDED]))
                .order_by(runs.c.queued_at, runs.c.id)
            )
            for run_id, key, status in conn.execute(query):
                if found.get(key, EarlierRun("", "")).status != SUCCEEDED:
                    found[key] = EarlierRun(run_id, status)
    return found


def run_statuses(store: Store, run_ids: Sequence[str]) -> dict[str, str]:
    """run id -> status, for the runs that are in history."""
    statuses: dict[str, str] = {}
    with _reader(store).connect() as conn:
        for chunk in _chunks(list(run_ids)):
            query = select(runs.c.id, runs.c.status).where(runs.c.id.in_(chunk))
            statuses.update({run_id: status for run_id, status in conn.execute(query)})
    return statuses


def batch_runs(store: Store, batch_id: str, limit: int = 1000) -> list[dict[str, Any]]:
    """The runs of one batch (a backfill's), oldest first."""
    query = select(runs).where(runs.c.batch_id == batch_id).order_by(runs.c.queued_at, runs.c.id).limit(limit)
    with _reader(store).connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def batch_counts(store: Store, batch_id: str) -> dict[str, int]:
    """status -> how many runs of the batch are in it (only the statuses that occur)."""
    query = select(runs.c.status, func.count()).where(runs.c.batch_id == batch_id).group_by(runs.c.status)
    with _reader(store).connect() as conn:
        return {status: int(n) for status, n in conn.execute(query)}
