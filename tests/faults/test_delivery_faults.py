"""Faults around real workers, schedulers and servers: the database or the broker goes away, worker
processes and schedulers are killed with -9. After each fault clears, every run ends within a stated
bound and the history invariants hold (tests/support/invariants.py).

Bounds, with the fault stacks' settings (lost_after 4 s, redeliver_after 3 s, recovery every 1.5 s):
a lost attempt is re-sent within lost_after + one recovery interval, an undelivered run within
redeliver_after + one interval, a delivery that met a database error within the task's backoff
(1, 2, 4 ... s). Each test allows 60 s on top of the fault's own length.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from invariants import check_history, wait_all_final
from sqlalchemy import text
from stack import Stack, wait_for_start

from harvester import Harvester
from harvester.execution.requests import new_run
from harvester.history.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.services]

FAULT_SETTINGS = {"redeliver_after": 3.0, "lost_after": 4.0, "lock_ttl": 4.0}
BOUND = 60.0


@pytest.fixture
def proxied_db(tmp_path, pg_proxy, postgres_url, redis_url):
    """Workers reach PostgreSQL through a proxy; the test watches history directly."""
    _clean(redis_url, postgres_url)
    made = Stack(
        tmp_path / "stack", broker_url=redis_url, database_url=pg_proxy.url_for(postgres_url), **FAULT_SETTINGS
    )
    direct = Harvester(made.settings.model_copy(update={"database_url": postgres_url}))
    yield made, direct, pg_proxy
    made.close()
    direct.close()


@pytest.fixture
def proxied_broker(tmp_path, redis_proxy, postgres_url, redis_url):
    """Everyone reaches Redis through a proxy; history is direct."""
    _clean(redis_url, postgres_url)
    made = Stack(
        tmp_path / "stack", broker_url=redis_proxy.url_for(redis_url), database_url=postgres_url, **FAULT_SETTINGS
    )
    yield made, redis_proxy
    made.close()


def _clean(redis_url: str | None, postgres_url: str) -> None:
    """No message or run of an earlier test reaches this one."""
    import redis

    if redis_url is not None:
        redis.Redis.from_url(redis_url).flushdb()
    store = Store(postgres_url)
    with store.engine.begin() as conn:
        conn.execute(text("TRUNCATE runs, run_attempts, run_logs, collector_state, records, occurrences"))
    store.close()


def test_database_unreachable_at_claim_the_delivery_is_retried(proxied_db):
    stack, direct, proxy = proxied_db
    stack.worker()
    proxy.refuse()
    run_id = direct.submit([direct.request("ok", {"token": "claim-outage"}, trigger="api")])[0]
    time.sleep(3)  # the worker takes the message, cannot claim, retries the delivery with backoff
    assert direct.store.get_run(run_id)["status"] == "queued"
    proxy.forward()
    wait_all_final(direct.store, BOUND)
    assert direct.store.get_run(run_id)["status"] == "succeeded"
    check_history(direct.store, grace=3.0)


def test_database_unreachable_at_finish_the_run_is_recovered(proxied_db, tmp_path):
    stack, direct, proxy = proxied_db
    stack.worker()
    markers = tmp_path / "markers"
    markers.mkdir()
    run_id = direct.submit([direct.request("slow", {"token": "finish-outage", "marker_dir": str(markers)})])[0]
    wait_for_start(markers)
    proxy.refuse()
    (markers / "release").touch()  # collect() returns; the finish cannot be written
    time.sleep(3)
    proxy.forward()
    wait_all_final(direct.store, BOUND)
    row = direct.store.get_run(run_id)
    assert row["status"] == "succeeded", row
    assert [a["status"] for a in direct.store.attempts(run_id)] == ["lost", "succeeded"]
    check_history(direct.store, grace=3.0)


def test_trigger_with_the_broker_unreachable_says_so_and_recovery_sends_the_run(proxied_broker):
    stack, proxy = proxied_broker
    proxy.refuse()
    done = subprocess.run(
        [sys.executable, "-m", "harvester", "trigger", "ok", "--token", "broker-down"],
        env=stack.env,
        cwd=stack.env["PWD"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"broker unreachable at redis://127.0.0.1:{proxy.port}" in lines[0]
    assert "Traceback" not in done.stderr
    (row,) = stack.hv.store.list_runs()
    assert row["status"] == "queued"
    assert row["id"] in lines[0]
    proxy.forward()
    stack.worker()  # its recovery sends the run once overdue
    wait_all_final(stack.hv.store, BOUND)
    assert stack.hv.store.get_run(row["id"])["status"] == "succeeded"
    check_history(stack.hv.store, grace=3.0)


def test_broker_unreachable_at_retry_the_retry_is_sent_by_recovery(tmp_path, private_redis, postgres_url):
    """The retry's countdown message dies with the broker (a private redis-server, killed -9 and
    started empty): the run is retrying in history, and recovery re-sends it."""
    _clean(None, postgres_url)
    stack = Stack(tmp_path / "stack", broker_url=private_redis.url, database_url=postgres_url, **FAULT_SETTINGS)
    try:
        stack.worker()
        markers = tmp_path / "markers"
        markers.mkdir()
        request = stack.hv.request("slow", {"token": "retry", "marker_dir": str(markers), "seconds": 0.1})
        stack.hv.submit([request])
        stack.wait(request.run_id)
        private_redis.kill()  # every message, countdowns included, is gone
        retried = stack.hv.request("retry_fail", {"token": "lost-countdown"})
        stack.hv.store.create_runs([new_run(stack.hv.registry, retried)])
        stack.hv.runner.execute(retried)  # its countdown message cannot be sent: the broker is down
        assert stack.hv.store.get_run(retried.run_id)["status"] == "retrying"
        private_redis.start()
        wait_all_final(stack.hv.store, BOUND)
        row = stack.hv.store.get_run(retried.run_id)
        assert (row["status"], row["attempt"]) == ("failed", 3)  # every retry ran: none was lost
        check_history(stack.hv.store, grace=3.0)
    finally:
        stack.close()


def test_a_batch_killed_part_way_runs_the_rest_after_recovery(stack, tmp_path):
    """kill -9 of the whole worker in the middle of a scheduled batch."""
    fault = Stack(tmp_path / "faulty", **{**_overrides(stack), **FAULT_SETTINGS})
    try:
        first = fault.worker()
        markers = tmp_path / "markers"
        markers.mkdir()
        hv = fault.hv
        batch = [
            hv.request("slow", {"token": "batch", "marker_dir": str(markers)}, trigger="schedule"),
            hv.request("ok", {"token": "batch-1"}, trigger="schedule"),
            hv.request("ok", {"token": "batch-2"}, trigger="schedule"),
        ]
        hv.store.create_runs([new_run(hv.registry, r) for r in batch])
        hv.dispatcher.publish_batch(batch)
        wait_for_start(markers)
        first.kill_all()
        (markers / "release").touch()
        fault.worker()
        wait_all_final(hv.store, BOUND)
        assert [hv.store.get_run(r.run_id)["status"] for r in batch] == ["succeeded"] * 3
        assert [a["status"] for a in hv.store.attempts(batch[0].run_id)] == ["lost", "succeeded"]
        check_history(hv.store, grace=3.0)
    finally:
        fault.close()


def test_a_killed_pool_child_of_a_fan_out_member_ends_the_flow(stack, tmp_path):
    import os
    import signal

    fault = Stack(
        tmp_path / "faulty",
        **{**_overrides(stack), "collectors": ["sample_collectors", "fanout_collectors"], **FAULT_SETTINGS},
    )
    try:
        fault.worker()
        markers = tmp_path / "markers"
        markers.mkdir()
        members = [
            {"collector": "slow", "params": {"token": "m", "marker_dir": str(markers)}},
            {"collector": "ok", "params": {"value": 2}},
        ]
        parent = fault.trigger("fan", token="kill-member", members=members)
        (pid,) = wait_for_start(markers)
        os.kill(pid, signal.SIGKILL)
        (markers / "release").touch()
        wait_all_final(fault.hv.store, BOUND)
        row = fault.hv.store.get_run(parent)
        assert row["status"] == "succeeded", row
        assert row["progress_done"] == 2
        check_history(fault.hv.store, grace=3.0)
    finally:
        fault.close()


def _overrides(stack) -> dict[str, object]:
    return {
        "broker_url": stack.settings.broker_url,
        "database_url": stack.settings.database_url,
    }
