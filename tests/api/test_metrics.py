"""GET /metrics: Prometheus text derived from history, the same from any process."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from api_support import Client, build, get_once
from prometheus_client.parser import text_string_to_metric_families

from harvester.api import create_app
from harvester.history.store import NewRun, Outcome

TRIGGER = "/api/v1/collect/trigger"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_runs_durations_records_retries_and_skips(client, workers, hv):
    workers.mode = "run"
    client.post(TRIGGER, json={"collector": "emitter", "params": {"n": 3}, "async_mode": False})
    client.post(TRIGGER, json={"collector": "fatal_fail", "async_mode": False})
    client.post(TRIGGER, json={"collector": "retry_fail"})
    workers.join()
    hv.store.create_runs([NewRun(run_id="s", collector="emitter", params={}, params_key="k", trigger="schedule")])
    hv.store.claim("s", stale_before=datetime.now(UTC))
    hv.store.finish("s", 1, Outcome("skipped", error_message="already running"))
    workers.mode = "hold"
    client.post(TRIGGER, json={"collector": "ok"})

    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    assert found["harvester_runs_total", (("category", ""), ("collector", "emitter"), ("status", "succeeded"))] == 1
    assert (
        found["harvester_runs_total", (("category", "unknown"), ("collector", "fatal_fail"), ("status", "failed"))] == 1
    )
    assert found["harvester_runs_total", (("category", ""), ("collector", "emitter"), ("status", "skipped"))] == 1
    assert found["harvester_runs_active", (("collector", "retry_fail"), ("status", "retrying"))] == 1
    assert found["harvester_runs_active", (("collector", "ok"), ("status", "queued"))] == 1
    assert found["harvester_skipped_overlaps_total", (("collector", "emitter"),)] == 1
    assert found["harvester_records_emitted_total", (("collector", "emitter"),)] == 3
    assert found["harvester_retries_total", (("collector", "retry_fail"),)] == 1
    assert found["harvester_run_duration_seconds_count", (("collector", "emitter"),)] == 1
    assert found["harvester_run_duration_seconds_bucket", (("collector", "emitter"), ("le", "+Inf"))] == 1
    assert found["harvester_run_duration_seconds_bucket", (("collector", "fatal_fail"), ("le", "3600.0"))] == 1
    last = found["harvester_last_success_timestamp_seconds", (("collector", "emitter"),)]
    assert abs(last - datetime.now(UTC).timestamp()) < 3600
    assert ("harvester_last_success_timestamp_seconds", (("collector", "fatal_fail"),)) not in found
    assert found["harvester_queue_depth", (("queue", "harvester"),)] == 0  # the stand-in broker took them


def test_two_apps_on_one_history_report_the_same(tmp_path, hv, workers, client):
    """What several API or worker processes see: history, not a per-process counter."""
    workers.mode = "run"
    client.post(TRIGGER, json={"collector": "ok", "async_mode": False})
    other = Client(create_app(hv))
    try:
        assert samples(other.get("/metrics").text) == samples(client.get("/metrics").text)
    finally:
        other.close()


def test_queue_depth_of_the_embedded_broker_counts_waiting_messages(client, hv):
    hv.settings.schedule_file.write_text(
        "groups:\n  g:\n    tasks:\n      - collector: ok\n        schedule: daily\n        queue: slowlane\n"
    )
    for value in range(3):
        client.post(TRIGGER, json={"collector": "ok", "params": {"value": value}})  # real publish, nobody consumes
    found = samples(client.get("/metrics").text)
    assert found["harvester_queue_depth", (("queue", "harvester"),)] == 3
    assert found["harvester_queue_depth", (("queue", "slowlane"),)] == 0


@pytest.mark.services
def test_queue_depth_on_redis(tmp_path, redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    hv = build(tmp_path, broker_url=redis_url)
    client = Client(create_app(hv))
    try:
        empty = samples(client.get("/metrics").text)  # Redis keeps no key for an empty list
        client.post(TRIGGER, json={"collector": "ok", "params": {"value": 1}})
        client.post(TRIGGER, json={"collector": "ok", "params": {"value": 2}})
        found = samples(client.get("/metrics").text)
    finally:
        client.close()
        hv.close()
        redis.Redis.from_url(redis_url).flushdb()
    assert empty["harvester_queue_depth", (("queue", "harvester"),)] == 0
    assert found["harvester_queue_depth", (("queue", "harvester"),)] == 2


def test_an_unreachable_broker_leaves_queue_depth_out(tmp_path):
    hv = build(tmp_path, broker_url="redis://127.0.0.1:1/0")
    answer = get_once(hv, "/metrics")
    assert answer.status_code == 200
    assert "harvester_queue_depth{" not in answer.text


def test_other_brokers_report_no_queue_depth(tmp_path):
    hv = build(tmp_path, broker_url="amqp://guest:guest@127.0.0.1:1//")
    answer = get_once(hv, "/metrics")
    assert "harvester_queue_depth{" not in answer.text
