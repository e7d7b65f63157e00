"""GET /api/v1/runs (filters, cursor pages) and GET /api/v1/runs/{run_id}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harvester.history.store import NewRun, Outcome

TRIGGER = "/api/v1/collect/trigger"


def test_pages_walk_the_whole_history_newest_first_without_repeats(client, workers):
    ids = [client.post(TRIGGER, json={"collector": "ok", "params": {"value": i}}).json()["run_id"] for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/runs", params=params).json()
        seen += [r["run_id"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == ids[::-1]


def test_a_new_run_does_not_shift_the_next_page(client, workers):
    first = [client.post(TRIGGER, json={"collector": "ok", "params": {"value": i}}).json()["run_id"] for i in range(3)]
    page = client.get("/api/v1/runs", params={"limit": 2}).json()
    client.post(TRIGGER, json={"collector": "ok", "params": {"value": 99}})
    rest = client.get("/api/v1/runs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [r["run_id"] for r in rest["items"]] == [first[0]]
    assert rest["next_cursor"] is None


def test_filters_by_collector_status_and_since(client, workers, hv):
    workers.mode = "run"
    ok = client.post(TRIGGER, json={"collector": "ok"}).json()["run_id"]
    failed = client.post(TRIGGER, json={"collector": "fatal_fail"}).json()["run_id"]
    workers.join()

    def ids(**params):
        answer = client.get("/api/v1/runs", params=params)
        assert answer.status_code == 200, answer.text
        return [r["run_id"] for r in answer.json()["items"]]

    assert ids(collector="ok") == [ok]
    assert ids(status="failed") == [failed]
    assert ids(collector="ok", status="failed") == []
    assert ids(collector="nope") == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ids(since=future) == []
    past = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()  # naive means UTC
    assert set(ids(since=past)) == {ok, failed}


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"cursor": "not-a-cursor"}, ["query", "cursor"]),
        ({"status": "sleeping"}, ["query", "status"]),
        ({"limit": 0}, ["query", "limit"]),
        ({"since": "yesterday"}, ["query", "since"]),
    ],
)
def test_bad_filters_are_422_naming_the_parameter(client, params, where):
    answer = client.get("/api/v1/runs", params=params)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == where


def test_run_detail_has_attempts_and_fan_out_children(client, workers, hv):
    workers.mode = "run"
    parent = client.post(TRIGGER, json={"collector": "retry_fail"}).json()["run_id"]
    workers.join()
    hv.store.create_runs(
        [
            NewRun(
                run_id=f"child-{i}",
                collector="ok",
                params={},
                params_key="k",
                trigger="parent",
                parent_run_id=parent,
                member_index=1 - i,
            )
            for i in range(2)
        ]
    )
    detail = client.get(f"/api/v1/runs/{parent}").json()
    assert detail["status"] == "retrying"
    assert [(a["attempt"], a["status"], a["error_category"]) for a in detail["attempts"]] == [
        (1, "retrying", "network")
    ]
    assert detail["children"] == ["child-1", "child-0"]  # member order
    child = client.get("/api/v1/runs/child-1").json()
    assert (child["parent_run_id"], child["children"], child["attempts"]) == (parent, [], [])


def test_finished_run_detail(client, workers, hv):
    workers.mode = "run"
    run_id = client.post(TRIGGER, json={"collector": "emitter", "params": {"n": 4}}).json()["run_id"]
    workers.join()
    run = client.get(f"/api/v1/runs/{run_id}").json()
    assert (run["status"], run["records"], run["result"]) == ("succeeded", 4, 4)
    assert run["attempts"][0]["worker"] == run["worker"]


def test_unknown_run_is_404(client):
    answer = client.get("/api/v1/runs/nope")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "no run 'nope'"}


def test_skipped_runs_are_listed(client, hv):
    hv.store.create_runs([NewRun(run_id="s", collector="ok", params={}, params_key="k", trigger="schedule")])
    hv.store.claim("s", stale_before=datetime.now(UTC))
    hv.store.finish("s", 1, Outcome("skipped", error_message="already running"))
    (run,) = client.get("/api/v1/runs", params={"status": "skipped"}).json()["items"]
    assert (run["run_id"], run["error_message"]) == ("s", "already running")


def test_run_detail_has_each_attempts_traceback_with_secrets_masked(client, hv):
    result = hv.run_inline(hv.request("wrong_header", {"api_key": "sk-live-987654"}))
    detail = client.get(f"/api/v1/runs/{result.run_id}")
    assert detail.status_code == 200
    body = detail.json()
    assert "Traceback (most recent call last)" in body["error_traceback"]
    assert "in parse_header" in body["attempts"][0]["error_traceback"]
    assert "sk-live-987654" not in detail.text
    page = client.get(f"/runs/{result.run_id}")
    assert page.status_code == 200
    assert "<summary>Traceback</summary>" in page.text
    assert "in parse_header" in page.text
    assert "sk-live-987654" not in page.text


@pytest.mark.parametrize("run_id", ["%00", "abc%00def", "x" * 300])
def test_an_id_that_cannot_be_a_run_is_404_on_every_route(client, run_id):
    for path in (f"/api/v1/runs/{run_id}", f"/api/v1/collect/status/{run_id}", f"/runs/{run_id}"):
        answer = client.get(path)
        assert answer.status_code == 404, (path, answer.text)
