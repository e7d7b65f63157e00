"""A triggered run can carry an expiry (`expires`: seconds or a duration); the run detail shows it,
and what each attempt cost."""

from __future__ import annotations

import pytest

TRIGGER = "/api/v1/collect/trigger"


@pytest.mark.parametrize(("given", "seconds"), [(90, 90), ("10m", 600), ("2h", 7200), (" 45 ", 45)])
def test_a_triggered_run_expires_after_the_given_time(client, workers, hv, given, seconds):
    run_id = client.post(TRIGGER, json={"collector": "ok", "expires": given}).json()["run_id"]
    row = hv.store.get_run(run_id)
    assert (row["expires_at"] - row["queued_at"]).total_seconds() == pytest.approx(seconds)
    detail = client.get(f"/api/v1/runs/{run_id}").json()
    assert detail["expires_at"] is not None


@pytest.mark.parametrize("given", [None, 0, "never", "0"])
def test_no_expiry_never_expires(client, workers, hv, given):
    run_id = client.post(TRIGGER, json={"collector": "ok", "expires": given}).json()["run_id"]
    assert hv.store.get_run(run_id)["expires_at"] is None


@pytest.mark.parametrize("given", ["soon", -5, "10x", True, [1]])
def test_a_bad_expiry_is_422_naming_the_field(client, workers, given):
    answer = client.post(TRIGGER, json={"collector": "ok", "expires": given})
    assert answer.status_code == 422
    assert any(problem["loc"][-1] == "expires" or "expires" in problem["loc"] for problem in answer.json()["detail"])


def test_a_run_that_expired_unstarted_says_so(client, workers, hv):
    run_id = client.post(TRIGGER, json={"collector": "ok", "expires": 0.001}).json()["run_id"]
    hv.reap()  # recovery, once its expiry passed
    run = client.get(f"/api/v1/runs/{run_id}").json()
    assert (run["status"], run["attempts"], run["started_at"]) == ("expired", [], None)
    assert client.get("/api/v1/runs", params={"status": "expired"}).json()["items"][0]["run_id"] == run_id


def test_the_run_detail_shows_each_attempts_cpu_and_memory(client, workers, hv):
    workers.mode = "run"
    run_id = client.post(TRIGGER, json={"collector": "ok"}).json()["run_id"]
    workers.join()
    run = client.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "succeeded"
    assert run["cpu_seconds"] >= 0
    assert run["peak_memory"] > 0
    [attempt] = run["attempts"]
    assert (attempt["cpu_seconds"], attempt["peak_memory"], attempt["records"]) == (
        run["cpu_seconds"],
        run["peak_memory"],
        run["records"],
    )
