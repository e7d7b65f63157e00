"""Alerts with a real beat and worker: one alert per incident, none lost when the target fails once,
and a hanging target slows no run."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from stack import Stack, wait_until

from harvester.alerts.targets import verify
from harvester.history.alerts import AlertStore

pytestmark = [pytest.mark.slow, pytest.mark.services]

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SCHEDULE = """
groups:
  flaky:
    alerts: [ops]
    tasks:
      - collector: until_file
        schedule: every 2s
        params: {flag: FLAG}
  broken:
    alerts: hang
    tasks:
      - collector: fatal_fail
        schedule: every 2s
        params: {token: broken}
  steady:
    alerts: []
    tasks:
      - collector: quick
        schedule: every 1s
        params: {token: steady}
"""


@pytest.fixture(params=["embedded", "redis+postgres"])
def alert_stack(request, tmp_path):
    overrides: dict[str, object] = {
        "collectors": ["sample_collectors", "alert_collectors"],
        "alert_interval": 0.5,
        "alert_retry_delay": 0.5,
        "alert_timeout": 20.0,
    }
    if request.param != "embedded":
        import redis

        overrides["broker_url"] = request.getfixturevalue("redis_url")
        overrides["database_url"] = postgres = request.getfixturevalue("postgres_url")
        redis.Redis.from_url(overrides["broker_url"]).flushdb()
        from harvester.history.store import Store

        store = Store(postgres)
        with store.engine.begin() as conn:
            conn.execute(text("TRUNCATE runs, occurrences, alert_incidents, alert_deliveries, alert_attempts CASCADE"))
        store.close()
    made = Stack(tmp_path / "stack", **overrides)
    made.env["PYTHONPATH"] += f":{HERE}"
    yield made
    made.close()


def test_one_alert_per_incident_none_lost_and_a_hanging_target_slows_no_run(alert_stack, receivers, tmp_path):
    receiver = receivers()
    hang = receivers(delay=60)  # answers after the alert timeout: the target hangs
    flag = tmp_path / "flag"
    alert_stack.settings.schedule_file.write_text(textwrap.dedent(SCHEDULE).replace("FLAG", str(flag)))
    targets = {
        "ops": {"kind": "webhook", "url": receiver.url, "secret": "s3cret"},
        "hang": {"kind": "webhook", "url": hang.url},
    }
    alert_stack.env["HARVESTER_ALERT_TARGETS"] = json.dumps(targets)
    receiver.statuses = [500]  # the first delivery fails: it must be sent again
    alert_stack.worker()
    beat = alert_stack.beat()
    wait_until(lambda: len(receiver.received) >= 2, what="the failure alert, sent twice")
    wait_until(lambda: bool(hang.received), what="the hanging target called")
    hanging_since = datetime.now(UTC)
    failed = receiver.received[1]
    assert failed.json["event"] == "run_failed"
    assert failed.json["incident"]["subject"] == "until_file"
    assert verify(failed.body, "s3cret", failed.headers["X-Harvester-Signature"])
    assert receiver.received[0].body == failed.body  # the same alert (id) again, not a second one
    # many more failed runs: no second alert for the same incident
    wait_until(lambda: _count(alert_stack, "until_file", "failed") >= 5, what="5 failed runs")
    flag.write_text("up")
    wait_until(lambda: len(receiver.received) >= 3, what="the recovery alert")
    assert [r.json["event"] for r in receiver.received] == ["run_failed", "run_failed", "recovered"]
    # while the hang target hangs (its timeout is 20 s), the steady entry keeps running
    steady = [r for r in _runs(alert_stack, "quick") if r["status"] == "succeeded"]
    assert len([r for r in steady if r["finished_at"] >= hanging_since]) >= 2, beat.output()[-3000:]
    assert all(r["duration"] < 10 for r in steady)
    alerts = AlertStore(alert_stack.hv.store)
    ops = [d for d in alerts.deliveries() if d["target"] == "ops"]
    assert sorted(d["event"] for d in ops) == ["recovered", "run_failed"]
    first = next(d for d in ops if d["event"] == "run_failed")
    assert [(a["attempt"], a["ok"], a["error"]) for a in alerts.attempts([first["id"]])] == [
        (1, False, "HTTP 500"),
        (2, True, None),
    ]


def _runs(stack: Stack, collector: str) -> list[dict]:
    return stack.hv.store.list_runs(collector=collector, limit=1000)


def _count(stack: Stack, collector: str, status: str) -> int:
    return sum(1 for r in _runs(stack, collector) if r["status"] == status)


def test_a_killed_worker_alerts_once_and_its_replacement_resolves_it(alert_stack, receivers):
    receiver = receivers()
    alert_stack.env["HARVESTER_ALERT_TARGETS"] = json.dumps({"ops": {"kind": "webhook", "url": receiver.url}})
    alert_stack.env["HARVESTER_ALERT_WORKER_GRACE"] = "1"
    first = alert_stack.worker()
    beat = alert_stack.beat()
    watching = f"alerts: watching worker harvester-{first.proc.pid}@"
    wait_until(lambda: watching in beat.output(), what="the beat's ping answered")
    first.kill_all()
    wait_until(lambda: len(receiver.received) >= 1, what="the worker_gone alert")
    gone = receiver.received[0].json
    assert gone["event"] == "worker_gone"
    assert gone["incident"]["subject"].startswith(f"harvester-{first.proc.pid}@")
    time.sleep(3)  # more passes while it stays gone: no second alert
    assert len(receiver.received) == 1
    alert_stack.worker()
    wait_until(lambda: len(receiver.received) >= 2, what="the worker_back alert")
    back = receiver.received[1].json
    assert (back["event"], back["state"]) == ("worker_back", "resolved")
    assert back["incident"]["id"] == gone["incident"]["id"]


STALE_SCHEDULE = """
groups:
  feeds:
    alerts: ops
    tasks:
      - collector: while_file
        schedule: every 2s
        freshness: 6s
        params: {flag: FLAG}
"""


def test_a_stale_entry_alerts_once_until_it_is_fresh_again(alert_stack, receivers, tmp_path):
    receiver = receivers()
    flag = tmp_path / "flag"
    flag.write_text("up")
    alert_stack.settings.schedule_file.write_text(textwrap.dedent(STALE_SCHEDULE).replace("FLAG", str(flag)))
    alert_stack.env["HARVESTER_ALERT_TARGETS"] = json.dumps({"ops": {"kind": "webhook", "url": receiver.url}})
    alert_stack.worker()
    alert_stack.beat()
    wait_until(lambda: _count(alert_stack, "while_file", "succeeded") >= 1, what="a first success")
    flag.unlink()
    wait_until(lambda: len(receiver.received) >= 2, what="the failure and staleness alerts")
    time.sleep(4)  # more failed runs, longer stale: no more alerts
    assert sorted(r.json["event"] for r in receiver.received) == ["run_failed", "stale"]
    flag.write_text("up")
    wait_until(lambda: len(receiver.received) >= 4, what="the recovery and freshness alerts")
    events = [r.json["event"] for r in receiver.received]
    assert sorted(events[2:]) == ["fresh", "recovered"]
    stale = next(r.json for r in receiver.received if r.json["event"] == "stale")
    assert stale["incident"]["subject"] == "feeds/while_file"
    assert "is stale: last success" in stale["summary"]
