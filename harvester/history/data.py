"""DataStore: what collectors and the scheduler keep besides runs: state, records, occurrences."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from harvester.history.engine import Database, aware, utcnow
from harvester.history.models import collector_state, occurrences, records


@dataclass(frozen=True)
class StateWrite:
    collector: str
    params_key: str
    data: Any
    version: int | None  # the version read; None when no row existed


class StateConflict(Exception):
    """Another run changed this collector's state since it was read."""


def content_hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class DataStore(Database):
    """State (committed with a run's success), the ``emit()`` sink, schedule occurrences."""

    # -- schedule occurrences ----------------------------------------------------------------

    def last_occurrences(self) -> dict[str, datetime]:
        """The latest dispatched occurrence of each schedule entry (where a restarted scheduler resumes)."""
        query = select(occurrences.c.entry_key, func.max(occurrences.c.due_at)).group_by(occurrences.c.entry_key)
        with self._read.connect() as conn:
            return {key: aware(due_at) for key, due_at in conn.execute(query)}

    def occurrences(self, entry_key: str | None = None) -> list[dict[str, Any]]:
        query = select(occurrences).order_by(occurrences.c.due_at)
        if entry_key is not None:
            query = query.where(occurrences.c.entry_key == entry_key)
        with self._read.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # -- state -----------------------------------------------------------------------------

    def load_state(self, collector: str, params_key: str) -> tuple[Any, int | None]:
        """The stored state and its version, or ``({}, None)`` when there is none yet."""
        with self._read.connect() as conn:
            row = conn.execute(
                select(collector_state.c.data, collector_state.c.version).where(
                    collector_state.c.collector == collector, collector_state.c.params_key == params_key
                )
            ).first()
        return (row.data, row.version) if row else ({}, None)

    def _write_state(self, conn: Connection, state: StateWrite, run_id: str, now: datetime) -> None:
        if state.version is None:
            done = conn.execute(
                self._insert(collector_state)
                .values(
                    collector=state.collector,
                    params_key=state.params_key,
                    data=state.data,
                    version=1,
                    updated_at=now,
                    run_id=run_id,
                )
                .on_conflict_do_nothing()
                .returning(collector_state.c.version)
            )
        else:
            done = conn.execute(
                update(collector_state)
                .where(
                    collector_state.c.collector == state.collector,
                    collector_state.c.params_key == state.params_key,
                    collector_state.c.version == state.version,
                )
                .values(data=state.data, version=state.version + 1, updated_at=now, run_id=run_id)
                .returning(collector_state.c.version)
            )
        if done.first() is None:
            raise StateConflict(
                f"state of collector '{state.collector}' was changed by another run since this run read it"
            )

    # -- records ---------------------------------------------------------------------------

    def upsert_records(self, collector: str, run_id: str | None, batch: Sequence[Mapping[str, Any]], key: str) -> None:
        """Insert new records, update changed ones, leave unchanged ones alone."""
        now = utcnow()
        rows: dict[str, dict[str, Any]] = {}
        for record in batch:
            record_key = str(record[key])
            rows[record_key] = {
                "collector": collector,
                "key": record_key,
                "payload": dict(record),
                "content_hash": content_hash(record),
                "first_seen": now,
                "last_seen": now,
                "run_id": run_id,
            }
        if not rows:
            return
        stmt = self._insert(records)
        stmt = stmt.on_conflict_do_update(
            index_elements=[records.c.collector, records.c.key],
            set_={
                "payload": stmt.excluded.payload,
                "content_hash": stmt.excluded.content_hash,
                "last_seen": stmt.excluded.last_seen,
                "run_id": stmt.excluded.run_id,
            },
            where=records.c.content_hash != stmt.excluded.content_hash,
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, list(rows.values()))

    def count_records(self, collector: str | None = None) -> int:
        query = select(func.count()).select_from(records)
        if collector:
            query = query.where(records.c.collector == collector)
        with self._read.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def get_records(self, collector: str) -> list[dict[str, Any]]:
        with self._read.connect() as conn:
            query = select(records).where(records.c.collector == collector).order_by(records.c.key)
            return [dict(r) for r in conn.execute(query).mappings()]
