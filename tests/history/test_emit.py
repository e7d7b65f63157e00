"""emit() in bulk, on SQLite and PostgreSQL: one encoding per record, unchanged records not written,
a batch all or nothing, odd input refused with the record named."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from harvester.history import data
from harvester.history.data import content_hash


def records(store) -> dict[str, dict]:
    return {r["key"]: r for r in store.get_records("c")}


def test_new_changed_and_unchanged_records_in_one_batch(store):
    store.upsert_records("c", "r1", [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], "id")
    first = records(store)
    store.upsert_records("c", "r2", [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 3, "v": "c"}], "id")
    second = records(store)
    assert second["1"] == first["1"]  # unchanged: even last_seen and run_id stay
    assert (second["2"]["payload"], second["2"]["run_id"]) == ({"id": 2, "v": "B"}, "r2")
    assert second["2"]["first_seen"] == first["2"]["first_seen"]
    assert second["2"]["last_seen"] > first["2"]["last_seen"]
    assert second["3"]["first_seen"] == second["3"]["last_seen"]
    assert second["2"]["content_hash"] == content_hash({"id": 2, "v": "B"})


def test_the_last_record_of_a_key_repeated_in_one_batch_wins(store):
    store.upsert_records("c", "r1", [{"id": 1, "v": "old"}, {"id": 2, "v": "x"}, {"id": 1, "v": "new"}], "id")
    got = records(store)
    assert len(got) == 2
    assert got["1"]["payload"] == {"id": 1, "v": "new"}


def test_a_batch_larger_than_a_statement_is_stored_whole(store, monkeypatch):
    monkeypatch.setattr(data, "EMIT_CHUNK", 3)
    store.upsert_records("c", "r1", [{"id": i, "v": i} for i in range(10)], "id")
    store.upsert_records("c", "r2", [{"id": i, "v": i if i % 2 else -i} for i in range(10)], "id")
    got = records(store)
    assert len(got) == 10
    assert {k for k, r in got.items() if r["run_id"] == "r2"} == {"2", "4", "6", "8"}  # 0 is -0: unchanged


def test_payloads_keep_their_field_order_and_odd_text(store):
    odd = {"z": 1, "a": 'nul \x00 tab \t quote " emoji \U0001f600', "m": [None, True, 1.5, {"y": {}, "b": []}]}
    store.upsert_records("c", None, [{"id": "k", **odd}], "id")
    payload = records(store)["k"]["payload"]
    assert payload == {"id": "k", **odd}
    assert list(payload) == ["id", "z", "a", "m"]


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([{"id": 1}, {"v": 2}], "record #1 has no value for key field 'id'"),
        ([{"id": 1}, {"id": None}], "record #1 has no value"),
        ([{"id": "a\x00b"}], "record #0 has a NUL character in its key field 'id'"),
        ([{"id": 1}, {"id": 2, "v": float("nan")}], "record #1 \\(key '2'\\) is not JSON"),
        ([{"id": 1, "v": object()}], "record #0 \\(key '1'\\) is not JSON"),
    ],
)
def test_odd_records_are_refused_naming_the_record_and_nothing_is_stored(store, batch, message):
    with pytest.raises(ValueError, match=message):
        store.upsert_records("c", None, batch, "id")
    assert store.count_records("c") == 0


def test_a_batch_the_database_refuses_rolls_back_whole(store, monkeypatch):
    monkeypatch.setattr(data, "EMIT_CHUNK", 2)
    batch = [{"id": f"k{i}"} for i in range(5)]
    if store.engine.dialect.name == "postgresql":
        batch.append({"id": "x" * 600})  # longer than records.key: refused in the last statement
    else:
        with store.engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON records WHEN NEW.key = 'boom' "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        batch.append({"id": "boom"})
    with pytest.raises(DBAPIError):
        store.upsert_records("c", None, batch, "id")
    assert store.count_records("c") == 0


def test_an_unchanged_record_gets_no_new_row_version(store):
    if store.engine.dialect.name != "postgresql":
        pytest.skip("row versions (xmin, ctid) are PostgreSQL's")
    store.upsert_records("c", "r1", [{"id": i, "v": i} for i in range(20)], "id")
    versions = "SELECT key, xmin::text, ctid::text FROM records WHERE collector = 'c' ORDER BY key"
    with store.engine.connect() as conn:
        before = conn.execute(text(versions)).all()
    store.upsert_records("c", "r2", [{"id": i, "v": i} for i in range(20)], "id")
    with store.engine.connect() as conn:
        after = conn.execute(text(versions)).all()
    assert after == before  # the same tuples: nothing rewritten
