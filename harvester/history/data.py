"""DataStore: what collectors and the scheduler keep besides runs: state, records, occurrences."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text, update

from harvester.history import bulk
from harvester.history.engine import Database, aware, utcnow
from harvester.history.models import UTCDateTime, collector_state, occurrences, records


@dataclass(frozen=True)
class StateWrite:
    collector: str
    params_key: str
    data: Any
    version: int | None  # the version read; None when no row existed


class StateConflict(Exception):
    """Another run changed this collector's state since it was read."""


#: Records per statement on PostgreSQL (the arrays of one statement stay a few MB).
EMIT_CHUNK = 10_000
#: Compact JSON, no NaN or Infinity (not JSON: PostgreSQL would refuse them).
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)

_SET_CHANGED = (
    "ON CONFLICT (collector, key) DO UPDATE SET payload = excluded.payload, content_hash = excluded.content_hash, "
    "last_seen = excluded.last_seen, run_id = excluded.run_id WHERE records.content_hash <> excluded.content_hash"
)
#: PostgreSQL: a chunk's keys, texts and hashes as three arrays (sent in binary: as text, parsing
#: them costs more than the insert). The conflict check is the unique index's, whatever the
#: statistics say (a read of stored hashes before the insert would be the planner's choice, and with
#: the statistics of a table that was empty it scans the collector's records once per record).
_UPSERT_ARRAYS = (
    "INSERT INTO records (collector, key, payload, content_hash, first_seen, last_seen, run_id) "
    "SELECT %(collector)s, n.key, CAST(n.payload AS JSON), n.hash, %(now)s, %(now)s, %(run_id)s "
    "FROM unnest(CAST(%(keys)b AS VARCHAR[]), CAST(%(payloads)b AS TEXT[]), CAST(%(hashes)b AS VARCHAR[])) "
    "AS n(key, payload, hash) " + _SET_CHANGED
)
_UPSERT_ROWS = text(
    "INSERT INTO records (collector, key, payload, content_hash, first_seen, last_seen, run_id) "
    "VALUES (:collector, :key, :payload, :hash, :now, :now, :run_id) " + _SET_CHANGED
).bindparams(bindparam("now", type_=UTCDateTime()))


def content_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the record's JSON text as stored (compact, in the collector's field order)."""
    return hashlib.sha256(_ENCODER.encode(payload).encode()).hexdigest()


def encode_records(batch: Sequence[Mapping[str, Any]], key: str) -> list[tuple[str, str, str]]:
    """(key, JSON text, hash) per distinct key, each record encoded once; of records that share a
    key, the last one wins (in the place of the first). Raises ValueError naming the record."""
    texts: dict[str, str] = {}
    for index, record in enumerate(batch):
        if record.get(key) is None:
            raise ValueError(f"emit(): record #{index} has no value for key field '{key}'")
        record_key = str(record[key])
        if "\x00" in record_key:
            raise ValueError(f"emit(): record #{index} has a NUL character in its key field '{key}'")
        try:
            texts[record_key] = _ENCODER.encode(record)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"emit(): record #{index} (key {record_key!r}) is not JSON: {exc}") from None
    return [(k, t, hashlib.sha256(t.encode()).hexdigest()) for k, t in texts.items()]


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
        """Insert new records, update changed ones, leave unchanged ones alone: all or nothing.

        Each record is JSON-encoded once; its hash is that text's. PostgreSQL: one statement per
        :data:`EMIT_CHUNK` records, an upsert whose update is skipped when the hash is equal (an
        unchanged record costs a probe of the unique index and a row lock, no new row version).
        SQLite: one ``executemany`` of the same upsert."""
        rows = encode_records(batch, key)
        if not rows:
            return
        params = {"collector": collector, "run_id": run_id, "now": utcnow()}
        with self.engine.begin() as conn:
            if conn.dialect.name != "postgresql":
                conn.execute(_UPSERT_ROWS, [{**params, "key": k, "payload": p, "hash": h} for k, p, h in rows])
                return
            for start in range(0, len(rows), EMIT_CHUNK):
                keys, payloads, hashes = zip(*rows[start : start + EMIT_CHUNK], strict=True)
                columns = {"keys": list(keys), "payloads": list(payloads), "hashes": list(hashes)}
                bulk.execute(conn, _UPSERT_ARRAYS, {**params, **columns})

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
