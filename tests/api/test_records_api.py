"""GET /api/v1/records: a collector's records, last changed first, in keyset pages, by key prefix."""

from __future__ import annotations


def test_records_page_through_newest_first_and_filter_by_key(client, hv):
    hv.run_inline(hv.request("emitter", {"token": "a", "n": 3}))
    hv.run_inline(hv.request("emitter", {"token": "b", "n": 2}))
    first = client.get("/api/v1/records", params={"collector": "emitter", "limit": 3}).json()
    assert len(first["items"]) == 3
    assert set(first["items"][0]) == {"key", "payload", "first_seen", "last_seen", "run_id"}
    rest = client.get("/api/v1/records", params={"collector": "emitter", "cursor": first["next_cursor"]}).json()
    keys = [r["key"] for r in first["items"] + rest["items"]]
    assert sorted(keys) == ["a-0", "a-1", "a-2", "b-0", "b-1"]
    assert set(keys[:2]) == {"b-0", "b-1"}  # the newest run's records first
    assert rest["next_cursor"] is None
    keyed = client.get("/api/v1/records", params={"collector": "emitter", "key": "a-"}).json()
    assert sorted(r["key"] for r in keyed["items"]) == ["a-0", "a-1", "a-2"]
    assert keyed["items"][0]["payload"] == {"id": keyed["items"][0]["key"], "version": 1}


def test_unknown_collector_is_404_and_a_bad_cursor_422(client):
    assert client.get("/api/v1/records", params={"collector": "nope"}).status_code == 404
    assert client.get("/api/v1/records").status_code == 422
    bad = client.get("/api/v1/records", params={"collector": "emitter", "cursor": "zzz"})
    assert bad.status_code == 422
