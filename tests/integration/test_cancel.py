"""Cancel on real workers: a queued run never starts; a running one's process is stopped, history
says cancelled, its lock is free (the next run of the same params runs), and nothing is lost."""

from __future__ import annotations

import time

import pytest
from invariants import check_history
from stack import wait_for_cancelled_stop, wait_for_start

pytestmark = [pytest.mark.slow, pytest.mark.services]


def test_cancel_a_running_run_stops_its_process_and_frees_its_lock(stack, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    stack.worker()
    run_id = stack.trigger("slow", marker_dir=str(markers), seconds=120)
    (pid,) = wait_for_start(markers)
    cancelled = stack.hv.cancel(run_id)
    assert (cancelled.recorded, cancelled.was) == (True, "running")
    wait_for_cancelled_stop(stack.workers[0], run_id, pid)
    row = stack.hv.store.get_run(run_id)
    assert (row["status"], row["error_message"]) == ("cancelled", "cancelled by a user")

    (markers / "release").touch()  # the next run of the same params returns at once
    again = stack.trigger("slow", marker_dir=str(markers), seconds=120)
    assert stack.wait(again, timeout=60)["status"] == "succeeded"  # not skipped: the lock went
    assert not (markers / f"ended-{run_id}").exists()  # the cancelled collector never went on
    time.sleep(1)  # a redelivered message of the cancelled run (late ack) must find it ended
    assert stack.hv.store.get_run(run_id)["status"] == "cancelled"
    check_history(stack.hv.store, grace=stack.settings.redeliver_after)


def test_cancel_a_queued_run_means_it_never_starts(stack, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    run_id = stack.trigger("slow", marker_dir=str(markers), seconds=0)  # no worker yet: it waits
    assert stack.hv.cancel(run_id).was == "queued"
    stack.worker()
    follow = stack.trigger("ok", token="after-cancel")
    assert stack.wait(follow)["status"] == "succeeded"  # the worker got past the cancelled message
    assert not list(markers.glob("started-*"))
    assert stack.hv.store.get_run(run_id)["status"] == "cancelled"
