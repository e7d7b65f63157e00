"""POST /api/v1/runs/{run_id}/cancel: a run that has not ended is cancelled; otherwise 404 or 409."""

from __future__ import annotations


def test_a_queued_run_is_cancelled_once(client, hv):
    (run_id,) = hv.submit([hv.request("ok", {"value": 1}, trigger="api")])  # the embedded broker: no worker
    answer = client.post(f"/api/v1/runs/{run_id}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"run_id": run_id, "status": "cancelled", "was": "queued", "cancelled": [run_id]}
    assert client.get(f"/api/v1/runs/{run_id}").json()["status"] == "cancelled"
    again = client.post(f"/api/v1/runs/{run_id}/cancel")
    assert again.status_code == 409
    assert again.json() == {"detail": f"run {run_id} has ended: it is cancelled"}


def test_an_unknown_run_is_404(client):
    assert client.post("/api/v1/runs/nope/cancel").status_code == 404
    assert client.post("/api/v1/runs/%00/cancel").status_code == 404
