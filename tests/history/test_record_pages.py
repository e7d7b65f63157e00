"""page_records: a collector's records, last changed first, in keyset pages, filtered by key prefix."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harvester.history.queries import CursorError, encode_cursor, page_records


def emit(store, collector: str, keys: list[str], version: int = 1, run_id: str | None = None) -> None:
    for key in keys:  # one statement each: each gets its own last_seen
        store.upsert_records(collector, run_id, [{"id": key, "v": version}], "id")


def test_pages_walk_every_record_once_newest_change_first(store):
    emit(store, "c", [f"k{n}" for n in range(7)])
    emit(store, "other", ["x"])
    seen, cursor = [], None
    while True:
        page = page_records(store, "c", cursor=cursor, limit=3)
        seen += [r["key"] for r in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"k{n}" for n in reversed(range(7))]


def test_a_changed_record_moves_to_the_top_and_an_unchanged_one_stays(store):
    emit(store, "c", ["a", "b", "c"])
    emit(store, "c", ["a"], version=2)  # changed
    emit(store, "c", ["b"], version=1)  # unchanged: not touched
    assert [r["key"] for r in page_records(store, "c").rows] == ["a", "c", "b"]
    assert page_records(store, "c").rows[0]["payload"] == {"id": "a", "v": 2}


def test_key_prefix_is_literal_text(store):
    emit(store, "c", ["repo/a", "repo/b", "rep%", "other", "re_o"])
    assert sorted(r["key"] for r in page_records(store, "c", key="repo/").rows) == ["repo/a", "repo/b"]
    assert [r["key"] for r in page_records(store, "c", key="rep%").rows] == ["rep%"]
    assert [r["key"] for r in page_records(store, "c", key="re_").rows] == ["re_o"]
    assert page_records(store, "c", key="zzz").rows == []
    assert page_records(store, "c\x00").rows == []


def test_a_cursor_it_did_not_make_is_refused(store):
    with pytest.raises(CursorError):
        page_records(store, "c", cursor="not-a-cursor")
    forged = encode_cursor({"queued_at": datetime.now(UTC), "id": "abc"})  # a run cursor
    with pytest.raises(CursorError):
        page_records(store, "c", cursor=forged)
