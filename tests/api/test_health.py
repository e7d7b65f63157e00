"""GET /health: 200/503, fixed error codes, bounded checks, freshness enforced only when asked."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest
from api_support import build, get_once

from harvester.api import health
from harvester.execution.requests import entry_requests
from harvester.request import new_batch_id
from harvester.schedule.overview import read_schedule_file

SCHEDULE = """\
groups:
  nightly:
    tasks:
      - collector: ok
        schedule: every 15m
      - collector: emitter
        schedule: daily
"""


@pytest.fixture
def pong(hv, monkeypatch):
    """One worker answers the ping (a real worker answering is the end-to-end test's business)."""
    monkeypatch.setattr(hv.celery.control, "ping", lambda **kwargs: [{"harvester-1@host": {"ok": "pong"}}])


def checks(answer):
    return answer.json()["checks"]


def test_healthy_when_every_check_passes(client, pong):
    answer = client.get("/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "healthy"
    for name in ("database", "broker", "workers", "schedule"):
        assert body["checks"][name]["ok"] is True
        assert body["checks"][name]["error"] is None
        assert body["checks"][name]["latency_ms"] >= 0
    assert body["checks"]["workers"]["details"] == {"answering": ["harvester-1@host"]}
    assert body["checks"]["schedule"]["details"] == {"present": False, "entries": 0, "problems": []}
    assert body["checks"]["freshness"] == {}


def test_no_worker_answering_is_unhealthy(client):
    """The embedded broker is there, nobody consumes it: triggered or scheduled runs would wait forever."""
    answer = client.get("/health")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["workers"] == {
        "ok": False,
        "latency_ms": body["checks"]["workers"]["latency_ms"],
        "error": "no_workers",
        "details": {},
    }
    assert body["checks"]["broker"]["ok"]
    assert body["checks"]["database"]["ok"]


def test_a_refused_broker_and_database_are_fixed_codes_without_exception_text(tmp_path):
    hv = build(
        tmp_path,
        broker_url="redis://:hunter2@127.0.0.1:1/0",
    )
    hv.settings.database_url = "postgresql://postgres:hunter2@127.0.0.1:1/nowhere"
    del hv.__dict__["store"]
    answer = get_once(hv, "/health")
    assert answer.status_code == 503
    found = {name: check["error"] for name, check in checks(answer).items() if name != "freshness"}
    assert found == {"database": "unreachable", "broker": "unreachable", "workers": "unreachable", "schedule": None}
    assert "hunter2" not in answer.text
    assert "refused" not in answer.text.lower()


def test_a_silent_broker_costs_one_timeout_not_a_hang(tmp_path):
    """A broker that accepts connections and never answers (a hung Redis): 503 with `timeout`."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        hv = build(tmp_path, broker_url=f"redis://127.0.0.1:{port}/0", health_timeout=0.5)
        answer = get_once(hv, "/health")
    assert answer.status_code == 503
    assert checks(answer)["broker"]["error"] == "timeout"
    assert checks(answer)["workers"]["error"] == "timeout"
    assert checks(answer)["database"]["ok"] is True


def test_a_hanging_check_is_reported_as_timeout(hv, client, pong, monkeypatch):
    hv.settings.health_timeout = 0.2
    monkeypatch.setattr(health, "_database", lambda hv: time.sleep(1) or {})
    answer = client.get("/health")
    assert answer.status_code == 503
    assert checks(answer)["database"]["error"] == "timeout"
    assert checks(answer)["broker"]["ok"] is True


def test_invalid_schedule_is_unhealthy_in_strict_mode_and_listed_otherwise(hv, client, pong):
    hv.settings.schedule_file.write_text(
        "groups:\n  g:\n    tasks:\n      - collector: nope\n        schedule: daily\n"
    )
    strict = client.get("/health")
    assert strict.status_code == 503
    assert checks(strict)["schedule"]["error"] == "invalid"
    hv.settings.schedule_strict = False
    lenient = client.get("/health")
    assert lenient.status_code == 200
    (problem,) = checks(lenient)["schedule"]["details"]["problems"]
    assert problem["line"] == 4
    assert "unknown collector 'nope'" in problem["message"]
    hv.settings.schedule_file.write_bytes(b"\xff\xfe")
    assert checks(client.get("/health"))["schedule"]["error"] == "invalid"


def run_entry(hv, workers, index):
    """Send the runs of the schedule file's entry ``index`` as beat does, and let the workers run them."""
    entry = read_schedule_file(hv.settings.schedule_file, hv.registry).schedule.entries[index]
    hv.submit(entry_requests(hv.registry, entry, new_batch_id(datetime.now(UTC))))
    workers.join()


def test_freshness_is_reported_and_enforced_only_when_asked(hv, client, pong, workers):
    hv.settings.schedule_file.write_text(SCHEDULE)
    workers.mode = "run"
    run_entry(hv, workers, 0)
    relaxed = client.get("/health")
    assert relaxed.status_code == 200
    fresh = checks(relaxed)["freshness"]
    assert fresh["nightly/ok"]["stale"] is False
    assert fresh["nightly/ok"]["last_success_at"] is not None
    assert fresh["nightly/emitter"] == {"last_success_at": None, "stale": True, "status": "never run"}
    hv.settings.health_enforce_freshness = True
    enforced = client.get("/health")
    assert enforced.status_code == 503
    assert enforced.json()["status"] == "unhealthy"
    assert checks(enforced)["freshness"]["nightly/emitter"]["stale"] is True
    client.post("/api/v1/collect/trigger", json={"collector": "emitter", "async_mode": False})
    assert client.get("/health").status_code == 503  # a run by hand is not a run of the entry
    run_entry(hv, workers, 1)
    assert client.get("/health").status_code == 200
