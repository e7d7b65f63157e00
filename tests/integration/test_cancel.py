"""Cancel on real workers: a queued run never starts; a running one's process is stopped, history
says cancelled, its lock is free (the next run of the same params runs), and nothing is lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from invariants import check_history
from stack import wait_for_start

pytestmark = [pytest.mark.slow, pytest.mark.services]


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped by its pool, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_cancel_a_running_run_stops_its_process_and_frees_its_lock(stack, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    stack.worker()
    run_id = stack.trigger("slow", marker_dir=str(markers), seconds=120)
    (pid,) = wait_for_start(markers)
    cancelled = stack.hv.cancel(run_id)
    assert (cancelled.recorded, cancelled.was) == (True, "running")
    deadline = time.monotonic() + 20
    stopped = f"run {run_id} was cancelled: attempt 1 stopped"
    while alive(pid) and stopped not in stack.workers[0].output() and time.monotonic() < deadline:
        time.sleep(0.1)
    # SIGTERM ends the collector: its process dies, or (prefork) the signal interrupts collect()
    assert not alive(pid) or stopped in stack.workers[0].output(), stack.workers[0].output()[-3000:]
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
