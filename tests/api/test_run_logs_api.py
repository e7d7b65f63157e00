"""GET /api/v1/runs/{run_id}/logs: a run's captured lines, oldest first, followed with ``after``."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _info(caplog):
    caplog.set_level(logging.INFO)  # what a worker's logging lets through


def test_logs_of_a_finished_run_come_in_order_and_say_it_is_finished(client, hv):
    run_id = hv.run_inline(hv.request("chatty", {"lines": 3, "api_key": "sk-live-424242"})).run_id
    body = client.get(f"/api/v1/runs/{run_id}/logs").json()
    assert (body["run_id"], body["status"], body["finished"]) == (run_id, "succeeded", True)
    messages = [item["message"] for item in body["items"]]
    assert messages == ["starting with key **********", "GET https://example.invalid/items -> 200"] + [
        f"line {n}" for n in range(3)
    ] + ["done"]
    assert body["next_after"] == body["items"][-1]["id"]
    assert "sk-live-424242" not in client.get(f"/api/v1/runs/{run_id}/logs").text


def test_after_and_limit_page_through_the_lines(client, hv):
    run_id = hv.run_inline(hv.request("chatty", {"lines": 3})).run_id
    first = client.get(f"/api/v1/runs/{run_id}/logs", params={"limit": 2}).json()
    assert len(first["items"]) == 2
    assert first["finished"] is False  # more lines wait, though the run has ended
    rest = client.get(f"/api/v1/runs/{run_id}/logs", params={"after": first["next_after"]}).json()
    assert rest["items"][0]["message"] == "line 0"
    assert rest["finished"] is True
    empty = client.get(f"/api/v1/runs/{run_id}/logs", params={"after": rest["next_after"]}).json()
    assert (empty["items"], empty["next_after"]) == ([], rest["next_after"])


def test_one_attempt_only(client, hv):
    run_id = hv.run_inline(hv.request("chatty")).run_id
    assert client.get(f"/api/v1/runs/{run_id}/logs", params={"attempt": 2}).json()["items"] == []
    assert len(client.get(f"/api/v1/runs/{run_id}/logs", params={"attempt": 1}).json()["items"]) == 3


def test_unknown_run_is_404_and_bad_cursor_is_422(client, hv):
    assert client.get("/api/v1/runs/nope/logs").status_code == 404
    run_id = hv.run_inline(hv.request("chatty")).run_id
    assert client.get(f"/api/v1/runs/{run_id}/logs", params={"after": -1}).status_code == 422
