"""The same worker paths on RabbitMQ (database overlap locks, PostgreSQL history)."""

from __future__ import annotations

import os
import signal

import pytest
from stack import Stack, wait_for_start

pytestmark = [pytest.mark.slow, pytest.mark.services]


@pytest.fixture
def rabbit_stack(rabbitmq_url, postgres_url, tmp_path):
    made = Stack(tmp_path / "stack", broker_url=rabbitmq_url, database_url=postgres_url)
    yield made
    made.close()


def test_success_retry_and_killed_process_on_rabbitmq(rabbit_stack, tmp_path):
    stack = rabbit_stack
    stack.worker()
    assert stack.wait(stack.trigger("ok", token="rabbit", value=3))["result"] == {"value": 3}
    retried = stack.wait(stack.trigger("retry_fail", token="rabbit"), timeout=60)
    assert (retried["status"], retried["attempt"], retried["error_category"]) == ("failed", 3, "network")
    markers = tmp_path / "markers"
    markers.mkdir()
    run_id = stack.trigger("slow", token="rabbit", marker_dir=str(markers))
    (pid,) = wait_for_start(markers)
    second = stack.wait(stack.trigger("slow", token="rabbit", marker_dir=str(markers)))
    assert second["status"] == "skipped"  # the database lock, since the broker is not Redis
    os.kill(pid, signal.SIGKILL)
    (markers / "release").touch()
    row = stack.wait(run_id, timeout=60)
    assert row["status"] == "succeeded"
    assert [a["status"] for a in stack.hv.store.attempts(run_id)] == ["lost", "succeeded"]
