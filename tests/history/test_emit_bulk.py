"""emit()'s one-pass encoding gives the text the stored hashes came from (pydantic's conversion of the
whole record, then the compact JSON encoder), whatever the record holds, so that a record stored
before is still unchanged; and a collector's emit() goes through it with the same errors."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from harvester.collector import Collector
from harvester.execution.context import StoreContext
from harvester.history import data
from harvester.history.data import _ENCODER, encode_records


class Colour(enum.Enum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 3


class Kind(enum.StrEnum):
    A = "a"


class Owner(BaseModel):
    login: str
    since: datetime


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Frozen(Mapping[str, Any]):
    """A Mapping that is not a dict."""

    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


WHEN = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
ODD_RECORDS: list[Mapping[str, Any]] = [
    {"id": 1, "name": "plain", "tags": ["a", "b"], "score": 1.5, "ok": True, "none": None},
    {"id": "k", "text": 'é ü 😀 \x00 \t "quoted" \\ back', "big": 10**30, "neg": -0.0, "tiny": 1e-7, "huge": 1e20},
    {"id": 2, "when": WHEN, "day": date(2026, 1, 2), "uuid": uuid.UUID(int=5), "price": Decimal("1.10")},
    {"id": 3, "colour": Colour.RED, "size": Size.BIG, "kind": Kind.A, "owner": Owner(login="x", since=WHEN)},
    {"id": 4, "point": Point(1, 2), "tuple": (1, (2, 3)), "set": {7}, "bytes": b"raw", "nested": [{"t": WHEN}]},
    {"id": 5, "keys": {1: "int", 2.5: "float", 1e20: "big float", Size.BIG: "int enum"}},
    {"id": "bools", "keys": {True: "true", False: "false"}},
    {"id": 6, "nested": {None: "a None key: 'None' by pydantic, 'null' by json"}},
    {"id": 7, "nested": {float("nan"): "refused by json, 'nan' by pydantic", float("-inf"): 1}},
    {None: "top-level None key", "id": "none"},
    {"id": 8, "is_null": 1, "x": {"was_null": 2}},  # keys ending in null: the exact path, same text
    {"id": WHEN, "v": 1},
    {"id": uuid.UUID(int=9), "v": 1},
    {"id": Colour.RED, "v": 1},
    {"id": Size.BIG, "v": 1},
    {"id": True, "v": 1},
    {"id": 1.25, "v": 1},
    {"id": Decimal("12"), "v": 1},
    OrderedDict([("v", 1), ("id", "ordered")]),
    Frozen(id="mapping", when=WHEN),
]


def sha256(payload_text: str) -> str:
    return hashlib.sha256(payload_text.encode()).hexdigest()


def reference(record: Mapping[str, Any], key: str = "id") -> tuple[str, str]:
    """What emit() encoded before the one-pass encoding: the key and text every stored hash is of."""
    converted = to_jsonable_python(dict(record))
    return str(converted[key]), _ENCODER.encode(converted)


@pytest.mark.parametrize("record", ODD_RECORDS, ids=range(len(ODD_RECORDS)))
def test_each_record_is_encoded_as_the_reference_encodes_it(record: Mapping[str, Any]) -> None:
    encoded = encode_records([record], "id")
    assert (encoded.keys, encoded.payloads) == tuple([part] for part in reference(record))


def test_a_batch_keeps_the_first_place_and_the_last_record_of_a_key() -> None:
    batch = [{"id": 1, "v": "old"}, {"id": "2"}, {"id": 1, "v": "new"}, {"id": 2}]
    encoded = encode_records(batch, "id")
    assert encoded.keys == ["1", "2"]
    assert encoded.payloads == ['{"id":1,"v":"new"}', '{"id":2}']
    assert encoded.hashes == [hashlib.sha256(t.encode()).hexdigest() for t in encoded.payloads]


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([{"id": 1}, {"v": 2}], r"^emit\(\): record #1 has no value for key field 'id'$"),
        ([{"id": 1}, {"id": None, "when": WHEN}], r"^emit\(\): record #1 has no value for key field 'id'$"),
        ([{1: "an int key is not the key 'id'"}], r"^emit\(\): record #0 has no value for key field 'id'$"),
        ([{"id": f"a\x00{WHEN}"}], r"^emit\(\): record #0 has a NUL character in its key field 'id'$"),
        ([{"id": 1}, {"id": 2, "v": [float("inf")]}], r"^emit\(\): record #1 \(key '2'\) is not JSON: Out of range"),
        ([{"id": 1, "v": object()}], r"^emit\(\): record #0 \(key '1'\) is not JSON: Unable to serialize"),
        ([{"id": WHEN, "v": {(1, 2): object()}}], r"^emit\(\): record #0 \(key '.*'\) is not JSON"),
    ],
)
def test_odd_records_are_refused_naming_the_first_one(batch: list[dict[Any, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_records(batch, "id")


class Sink(Collector):
    name = "sink"

    def collect(self) -> None:
        """Not run: the tests call emit() themselves."""


def bound(store: Any, run_id: str) -> Sink:
    collector = Sink()
    collector.bind(StoreContext(store, collector.name, "", run_id))
    return collector


def test_a_collector_stores_the_reference_text_and_hash(store: Any) -> None:
    batch = [r for r in ODD_RECORDS if not isinstance(r.get("id"), bool)]  # True and 1 share key "1"
    assert bound(store, "r1").emit(batch) == len(batch)
    stored = {r["key"]: r for r in store.get_records("sink")}
    expected = dict(reference(r) for r in batch)
    assert set(stored) == set(expected)
    assert {key: r["content_hash"] for key, r in stored.items()} == {k: sha256(t) for k, t in expected.items()}
    assert {key: r["payload"] for key, r in stored.items()} == {k: json.loads(t) for k, t in expected.items()}


def test_records_stored_by_the_reference_encoding_are_unchanged(store: Any) -> None:
    """A record stored with the reference text and hash (as before the one-pass encoding) is not
    rewritten by an emit of the same record."""
    batch = [{"id": i, "when": WHEN, "owner": Owner(login=f"u{i}", since=WHEN), "n": {None: i}} for i in range(60)]
    references = [reference(r) for r in batch]
    store.upsert_records("sink", "r0", [to_jsonable_python(r) for r in batch], "id")
    with store.engine.connect() as conn:
        hashes = dict(conn.execute(text("SELECT key, content_hash FROM records WHERE collector = 'sink'")).all())
    assert hashes == {k: sha256(t) for k, t in references}
    bound(store, "r1").emit(batch)
    assert {r["run_id"] for r in store.get_records("sink")} == {"r0"}


def test_a_collector_emit_of_a_bad_record_stores_nothing(store: Any) -> None:
    collector = bound(store, "r1")
    with pytest.raises(ValueError, match=r"record #2 has no value for key field 'id'"):
        collector.emit(iter([{"id": 1}, {"id": 2}, {"name": "no id"}]))
    with pytest.raises(ValueError, match=r"record #1 \(key '2'\) is not JSON"):
        collector.emit([{"id": 1}, {"id": 2, "v": object()}])
    assert store.count_records("sink") == 0


def test_keys_and_texts_with_line_breaks_and_backslashes_are_stored_as_they_are(store: Any) -> None:
    """On PostgreSQL a chunk's texts go as one string, a line per record: a line break in a value
    is the JSON escape, and keys go apart."""
    batch = [
        {"id": "a\nb", "v": "one\ntwo\r\n"},
        {"id": "c\\d\te ' \"", "v": "back\\slash \\n"},
        {"id": " ", "v": ["\n", "\u2028", "é"]},
        {"id": "last", "v": ""},
    ]
    store.upsert_records("c", "r1", batch, "id")
    got = {r["key"]: r for r in store.get_records("c")}
    assert {k: r["payload"] for k, r in got.items()} == {r["id"]: r for r in batch}
    assert {k: r["content_hash"] for k, r in got.items()} == {r["id"]: sha256(reference(r)[1]) for r in batch}
    store.upsert_records("c", "r2", batch, "id")
    assert {r["run_id"] for r in store.get_records("c")} == {"r1"}


def test_a_key_repeated_across_chunks_is_written_as_its_last_record_only(store: Any, monkeypatch: Any) -> None:
    """Chunks are encoded one by one only when the keys are distinct: a key whose first record
    differs from what is stored and whose last is the same leaves the stored record alone."""
    monkeypatch.setattr(data, "EMIT_CHUNK", 2)
    store.upsert_records("c", "r1", [{"id": i, "v": i} for i in range(5)], "id")
    store.upsert_records(
        "c", "r2", [{"id": 0, "v": "changed"}, {"id": 1, "v": 1}, {"id": 2, "v": 2}, {"id": 0, "v": 0}], "id"
    )
    store.upsert_records("c", "r3", [{"id": "3", "v": "x"}, {"id": 4, "v": "y"}, {"id": 3, "v": "z"}], "id")
    got = {r["key"]: (r["payload"]["v"], r["run_id"]) for r in store.get_records("c")}
    assert got == {"0": (0, "r1"), "1": (1, "r1"), "2": (2, "r1"), "3": ("z", "r3"), "4": ("y", "r3")}


@pytest.mark.parametrize("where", ["encoding", "database"])
def test_a_chunk_refused_after_others_were_sent_stores_nothing(store: Any, monkeypatch: Any, where: str) -> None:
    monkeypatch.setattr(data, "EMIT_CHUNK", 2)
    batch: list[dict[str, Any]] = [{"id": f"k{i}", "v": i} for i in range(7)]
    if where == "encoding":
        batch[5]["v"] = object()
        with pytest.raises(ValueError, match=r"^emit\(\): record #5 \(key 'k5'\) is not JSON"):
            store.upsert_records("c", "r1", batch, "id")
    else:
        batch[3]["id"] = "x" * 600  # longer than records.key on PostgreSQL
        if store.engine.dialect.name != "postgresql":
            pytest.skip("SQLite does not limit a VARCHAR's length")
        with pytest.raises(DBAPIError):
            store.upsert_records("c", "r1", batch, "id")
    assert store.count_records("c") == 0
    store.upsert_records("c", "r2", [{"id": "after", "v": 1}], "id")  # the store's connections still work
    assert store.count_records("c") == 1
