"""The API against real worker subprocesses, on the embedded default and on Redis + PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from api_support import Client

from harvester.api import create_app


@pytest.mark.slow
def test_a_real_worker_answers_health_and_finishes_a_sync_trigger(stack):
    stack.worker()
    client = Client(create_app(stack.hv))
    try:
        health = client.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["checks"]["workers"]["details"]["answering"]
        token = uuid.uuid4().hex
        answer = client.post(
            "/api/v1/collect/trigger",
            json={"collector": "ok", "params": {"token": token, "value": 4}, "async_mode": False},
        )
        assert answer.status_code == 200, answer.text
        run = answer.json()
        assert (run["status"], run["result"], run["worker"] is not None) == ("succeeded", {"value": 4}, True)
        status = client.get(f"/api/v1/collect/status/{run['run_id']}").json()
        assert (status["state"], status["progress"]) == ("succeeded", {"done": 1, "total": 1})
        metrics = client.get("/metrics").text
        assert 'harvester_runs_total{category="",collector="ok",status="succeeded"} 1.0' in metrics
        assert 'harvester_queue_depth{queue="harvester"} 0.0' in metrics
    finally:
        client.close()
