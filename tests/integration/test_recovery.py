"""Failures of the machinery itself: killed workers, overlapping runs, locks of dead holders."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import pytest
from stack import wait_for_start

pytestmark = [pytest.mark.slow, pytest.mark.services]


def test_killed_pool_process_is_redelivered_and_completes(stack, tmp_path):
    stack.worker()
    markers = tmp_path / "markers"
    markers.mkdir()
    run_id = stack.trigger("slow", token="kill-child", marker_dir=str(markers))
    (pid,) = wait_for_start(markers)
    os.kill(pid, signal.SIGKILL)  # kill -9 the pool process in the middle of collect()
    (markers / "release").touch()  # the redelivered attempt may finish at once
    row = stack.wait(run_id, timeout=60)
    assert row["status"] == "succeeded"
    assert row["result"]["pid"] != pid
    attempts = stack.hv.store.attempts(run_id)
    assert [a["status"] for a in attempts] == ["lost", "succeeded"]
    assert stack.hv.store.list_runs(status="running") == []


def test_killed_worker_is_reaped_requeued_and_completes(stack, tmp_path):
    first = stack.worker()
    markers = tmp_path / "markers"
    markers.mkdir()
    run_id = stack.trigger("slow", token="kill-all", marker_dir=str(markers))
    wait_for_start(markers)
    first.kill_all()  # the whole worker, main process included: nothing acks or rejects
    (markers / "release").touch()
    assert stack.hv.store.get_run(run_id)["status"] == "running"
    stack.worker()
    deadline = time.monotonic() + 60
    while stack.hv.store.get_run(run_id)["status"] == "running" and time.monotonic() < deadline:
        stack.hv.reap()  # what `harvester beat` runs every lost_after / 2 seconds
        time.sleep(0.5)
    row = stack.wait(run_id, timeout=30)
    assert row["status"] == "succeeded"
    assert [a["status"] for a in stack.hv.store.attempts(run_id)] == ["lost", "succeeded"]


def test_concurrent_triggers_of_same_params_run_once(stack, tmp_path):
    stack.worker()
    markers = tmp_path / "markers"
    markers.mkdir()
    first = stack.trigger("slow", token="overlap", marker_dir=str(markers))
    wait_for_start(markers)
    second = stack.trigger("slow", token="overlap", marker_dir=str(markers))
    skipped = stack.wait(second)
    assert skipped["status"] == "skipped"
    assert first in skipped["error_message"]
    (markers / "release").touch()
    assert stack.wait(first)["status"] == "succeeded"
    assert len(list(markers.glob("started-*"))) == 1
    # different params are a different collector instance: no overlap
    other = tmp_path / "other"
    other.mkdir()
    (other / "release").touch()
    assert stack.wait(stack.trigger("slow", token="other", marker_dir=str(other)))["status"] == "succeeded"


def test_two_triggers_submitted_together_one_skipped(stack, tmp_path):
    stack.worker()
    markers = tmp_path / "markers"
    markers.mkdir()
    request = stack.hv.request("slow", {"token": "together", "marker_dir": str(markers), "seconds": 3})
    twin = stack.hv.request("slow", {"token": "together", "marker_dir": str(markers), "seconds": 3})
    stack.hv.submit([request, twin])
    rows = [stack.wait(request.run_id), stack.wait(twin.run_id)]
    assert sorted(r["status"] for r in rows) == ["skipped", "succeeded"]


def test_lock_of_killed_holder_expires_and_later_run_proceeds(stack, tmp_path):
    first = stack.worker()
    markers = tmp_path / "markers"
    markers.mkdir()
    stack.trigger("slow", token="expire", marker_dir=str(markers))
    wait_for_start(markers)
    first.kill_all()
    killed_at = time.monotonic()
    (markers / "release").touch()
    stack.worker()
    time.sleep(max(0.0, stack.settings.lock_ttl + 0.5 - (time.monotonic() - killed_at)))
    # overlap=queue: the later run waits while a live run holds the lock (recovery may be running
    # the killed one again right now, legitimately) and proceeds once the dead holder's lock expired;
    # a lock that never expired would keep it waiting, and the wait below would time out
    request = replace(stack.hv.request("slow", {"token": "expire", "marker_dir": str(markers)}), overlap="queue")
    (later_id,) = stack.hv.submit([request])
    later = stack.wait(later_id, timeout=60)
    assert later["status"] == "succeeded"


def test_beat_reaps_a_run_whose_worker_died(stack, tmp_path):
    first = stack.worker()
    stack.beat()
    markers = tmp_path / "markers"
    markers.mkdir()
    run_id = stack.trigger("slow", token="beat-reaps", marker_dir=str(markers))
    wait_for_start(markers)
    first.kill_all()
    (markers / "release").touch()
    stack.worker()
    row = stack.wait(run_id, timeout=60)  # no test code reaps: the scheduler does
    assert row["status"] == "succeeded"
    assert [a["status"] for a in stack.hv.store.attempts(run_id)] == ["lost", "succeeded"]
