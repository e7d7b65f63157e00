"""DataStore: what collectors and the scheduler keep besides runs: state, records, occurrences."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
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
#: The same, with pydantic's conversion for the values that are not JSON's (datetimes, UUIDs, models).
_RECORD_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=to_jsonable_python)

_SET_CHANGED = (
    "ON CONFLICT (collector, key) DO UPDATE SET payload = excluded.payload, content_hash = excluded.content_hash, "
    "last_seen = excluded.last_seen, run_id = excluded.run_id WHERE records.content_hash <> excluded.content_hash"
)
#: PostgreSQL: a chunk's keys as an array (sent in binary: as text, parsing it costs more than the
#: insert), its texts and hashes each as one text, a line per record and hashes space-separated
#: (the JSON texts hold no newline: the encoder escapes control characters; a string costs the
#: client one join, an array a Python loop in the driver). The conflict check is the unique
#: index's, whatever the statistics say (a read of stored hashes before the insert would be the
#: planner's choice, and with the statistics of a table that was empty it scans the collector's
#: records once per record).
_UPSERT_ARRAYS = (
    "INSERT INTO records (collector, key, payload, content_hash, first_seen, last_seen, run_id) "
    "SELECT %(collector)s, n.key, CAST(n.payload AS JSON), n.hash, %(now)s, %(now)s, %(run_id)s "
    "FROM ROWS FROM (unnest(CAST(%(keys)b AS VARCHAR[])), string_to_table(CAST(%(payloads)s AS TEXT), E'\\n'), "
    "string_to_table(CAST(%(hashes)s AS TEXT), ' ')) AS n(key, payload, hash) " + _SET_CHANGED
)
_UPSERT_ROWS = text(
    "INSERT INTO records (collector, key, payload, content_hash, first_seen, last_seen, run_id) "
    "VALUES (:collector, :key, :payload, :hash, :now, :now, :run_id) " + _SET_CHANGED
).bindparams(bindparam("now", type_=UTCDateTime()))


def content_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the record's JSON text as stored (compact, in the collector's field order)."""
    return hashlib.sha256(_ENCODER.encode(payload).encode()).hexdigest()


@dataclass(frozen=True)
class EncodedRecords:
    """A batch as columns, one entry per distinct key: what the upsert sends as they are."""

    keys: list[str]
    payloads: list[str]
    hashes: list[str]


def encode_records(batch: Sequence[Mapping[str, Any]], key: str, first: int = 0) -> EncodedRecords:
    """Each record's key, JSON text and hash; of records that share a key, the last one wins (in
    the place of the first). Raises ValueError naming the record (``first`` is the index of
    ``batch[0]`` in what the collector emitted).

    One pass of the json module's C encoder per record, pydantic's conversion called only for the
    values JSON has no type for: the text of ``_ENCODER.encode(to_jsonable_python(record))`` (the
    reference, which hashes of stored records came from) at a third of its cost. Where the two could
    differ (a ``None`` dict key: ``"null"`` here, ``"None"`` in pydantic's) or the record is refused,
    :func:`_encode_exactly` encodes it the reference way and raises its errors. (One difference is
    left: a dict with both ``1`` and ``"1"`` as keys keeps both here, the last in pydantic's.)"""
    encode = _RECORD_ENCODER.encode
    texts: dict[str, str] = {}
    for index, record in enumerate(batch, first):
        fields = record if type(record) is dict else dict(record)
        value = fields.get(key)
        try:
            text = encode(fields)
            record_key = (
                value if type(value) is str else str(value if type(value) is int else to_jsonable_python(value))
            )
        except (TypeError, ValueError):
            value = None
        if value is None or 'null":' in text:
            record_key, text = _encode_exactly(index, fields, key)
        elif "\x00" in record_key:
            raise ValueError(f"emit(): record #{index} has a NUL character in its key field '{key}'")
        texts[record_key] = text
    payloads = list(texts.values())
    sha256 = hashlib.sha256
    return EncodedRecords(list(texts), payloads, [sha256(t.encode()).hexdigest() for t in payloads])


def _encode_exactly(index: int, fields: Mapping[str, Any], key: str) -> tuple[str, str]:
    """The reference encoding of one record (pydantic's conversion of all of it, then ``_ENCODER``):
    its key and text, or the ValueError that names it."""
    converted: Mapping[str, Any] = fields
    refused: Exception | None = None
    try:
        converted = to_jsonable_python(fields)
    except ValueError as exc:  # pydantic's PydanticSerializationError
        refused = exc
    value = converted.get(key)
    if value is None:
        raise ValueError(f"emit(): record #{index} has no value for key field '{key}'")
    record_key = str(value)
    if "\x00" in record_key:
        raise ValueError(f"emit(): record #{index} has a NUL character in its key field '{key}'")
    if refused is None:
        try:
            return record_key, _ENCODER.encode(converted)
        except (TypeError, ValueError) as exc:
            refused = exc
    raise ValueError(f"emit(): record #{index} (key {record_key!r}) is not JSON: {refused}") from None


def _encoded_chunks(batch: Sequence[Mapping[str, Any]], key: str) -> Iterator[dict[str, Any]]:
    """The columns of :data:`_UPSERT_ARRAYS` per :data:`EMIT_CHUNK` records. When every key is a
    str or an int and no two are equal (a check that costs little before encoding), a chunk is
    encoded only when asked for, so that it overlaps the insert of the one before; otherwise the
    whole batch is encoded first: records that share a key must meet in one encoding, where the
    last one wins, not in two statements, where each would be written."""
    keys = [record.get(key) for record in batch]
    if set(map(type, keys)) <= {str, int} and len(set(map(str, keys))) == len(keys):
        encoded = (encode_records(batch[s : s + EMIT_CHUNK], key, s) for s in range(0, len(batch), EMIT_CHUNK))
    else:
        whole = encode_records(batch, key)
        encoded = (
            EncodedRecords(
                whole.keys[s : s + EMIT_CHUNK], whole.payloads[s : s + EMIT_CHUNK], whole.hashes[s : s + EMIT_CHUNK]
            )
            for s in range(0, len(whole.keys), EMIT_CHUNK)
        )
    for chunk in encoded:
        if chunk.keys:
            yield {"keys": chunk.keys, "payloads": "\n".join(chunk.payloads), "hashes": " ".join(chunk.hashes)}


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
        unchanged record costs a probe of the unique index and a row lock, no new row version),
        pipelined: a chunk is encoded while the server stores the one before. SQLite: one
        ``executemany`` of the same upsert."""
        params = {"collector": collector, "run_id": run_id, "now": utcnow()}
        if self.engine.dialect.name != "postgresql":
            encoded = encode_records(batch, key)
            if encoded.keys:
                rows = zip(encoded.keys, encoded.payloads, encoded.hashes, strict=True)
                with self.engine.begin() as conn:
                    conn.execute(_UPSERT_ROWS, [{**params, "key": k, "payload": p, "hash": h} for k, p, h in rows])
            return
        chunks = _encoded_chunks(batch, key)
        first = next(chunks, None)  # a batch refused from its first chunk on never opens a transaction
        if first is None:
            return
        with self.engine.begin() as conn:
            statements = ({**params, **columns} for columns in itertools.chain([first], chunks))
            bulk.execute_each(conn, _UPSERT_ARRAYS, statements)

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
