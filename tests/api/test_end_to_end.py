"""``harvester up`` on the embedded default, driven over HTTP: trigger -> status -> health -> metrics."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

STALE_SCHEDULE = """\
groups:
  e2e:
    tasks:
      - collector: system_metrics
        schedule: daily
        at: "{at}"
        params: {{sample_seconds: 0}}
        freshness: 1s
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def poll(fetch, until, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fetch()
        except httpx.TransportError as exc:
            last = exc
        else:
            if until(last):
                return last
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached in {timeout}s; last: {getattr(last, 'text', last)}")


@pytest.mark.slow
def test_up_serves_the_api_end_to_end(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVESTER_")}
    env["HARVESTER_HEALTH_ENFORCE_FRESHNESS"] = "true"
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "harvester", "up", "--no-examples", "--api-port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        healthy = poll(lambda: httpx.get(f"{base}/health", timeout=10), lambda r: r.status_code == 200, what="healthy")
        assert healthy.json()["checks"]["workers"]["details"]["answering"]

        accepted = httpx.post(
            f"{base}/api/v1/collect/trigger", json={"collector": "system_metrics", "params": {"sample_seconds": 0}}
        )
        assert accepted.status_code == 202
        run_id = accepted.json()["task_id"]
        status = poll(
            lambda: httpx.get(f"{base}/api/v1/collect/status/{run_id}"),
            lambda r: r.json()["state"] in ("succeeded", "failed"),
            what="finished run",
        ).json()
        assert status["state"] == "succeeded", status
        assert status["result"]["metrics"] >= 3

        metrics = httpx.get(f"{base}/metrics").text
        assert 'harvester_runs_total{category="",collector="system_metrics",status="succeeded"} 1.0' in metrics
        assert 'harvester_run_duration_seconds_count{collector="system_metrics"} 1.0' in metrics

        later = (datetime.now(UTC) + timedelta(hours=12)).strftime("%H:%M")  # not due while the test runs
        (tmp_path / "schedule.yaml").write_text(STALE_SCHEDULE.format(at=later))
        time.sleep(1.1)  # the entry allows 1 s since the last success
        unhealthy = httpx.get(f"{base}/health", timeout=10)
        assert unhealthy.status_code == 503
        entry = unhealthy.json()["checks"]["freshness"]["e2e/system_metrics"]
        assert entry["stale"] is True
        assert entry["last_success_at"] is None  # a run by hand does not make a schedule entry fresh
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=60)
        finally:
            if up.poll() is None:
                up.kill()
            log.close()
    output = (tmp_path / "up.log").read_text()
    assert up.returncode == 0, output
    assert f"dashboard and API: http://127.0.0.1:{port}/" in output
