"""The API against real worker subprocesses, on the embedded default and on Redis + PostgreSQL."""

from __future__ import annotations

import time
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
        assert answer.status_code in (200, 202), answer.text  # 202: a loaded machine outlasted the sync wait
        run_id = answer.json()["run_id"]
        deadline = time.monotonic() + 60
        while (status := client.get(f"/api/v1/collect/status/{run_id}").json())["state"] != "succeeded":
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        assert (status["result"], status["progress"]) == ({"value": 4}, {"done": 1, "total": 1})
        assert client.get(f"/api/v1/runs/{run_id}").json()["worker"] is not None
        metrics = client.get("/metrics").text
        assert 'harvester_runs_total{category="",collector="ok",status="succeeded"} 1.0' in metrics
        assert 'harvester_queue_depth{queue="harvester"} 0.0' in metrics
    finally:
        client.close()
