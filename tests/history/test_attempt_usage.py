"""What each attempt cost is kept: the run row has its last attempt's, run_attempts the earlier ones'."""

from __future__ import annotations

import uuid
from datetime import timedelta

from harvester.history.engine import utcnow
from harvester.history.store import NewRun, Outcome


def test_each_attempt_keeps_its_cpu_memory_and_records(store):
    run_id = str(uuid.uuid4())
    store.create_runs([NewRun(run_id, "c", {}, "key", "cli")])
    stale = utcnow() - timedelta(seconds=60)
    store.claim(run_id, stale_before=stale)
    failed = Outcome("retrying", records=2, cpu_seconds=0.5, peak_memory=3 * 2**30, retry_in=0, error_message="x")
    assert store.finish(run_id, 1, failed).recorded
    store.claim(run_id, stale_before=stale)
    running = store.get_run(run_id)
    assert (running["cpu_seconds"], running["peak_memory"]) == (None, None)  # the new attempt has none yet
    assert store.finish(run_id, 2, Outcome("succeeded", records=5, cpu_seconds=1.25, peak_memory=200 * 2**20))
    first, second = store.attempts(run_id)
    assert (first["records"], first["cpu_seconds"], first["peak_memory"]) == (2, 0.5, 3 * 2**30)  # > 2 GiB fits
    assert (second["records"], second["cpu_seconds"], second["peak_memory"]) == (5, 1.25, 200 * 2**20)
    row = store.get_run(run_id)
    assert (row["cpu_seconds"], row["peak_memory"]) == (1.25, 200 * 2**20)


def test_a_lost_attempt_has_no_figures(store):
    run_id = str(uuid.uuid4())
    store.create_runs([NewRun(run_id, "c", {}, "key", "cli")])
    store.claim(run_id, stale_before=utcnow() - timedelta(seconds=60))
    assert store.mark_lost(run_id, 1, requeue=True, message="worker lost").recorded
    [lost] = store.attempts(run_id)
    assert (lost["status"], lost["cpu_seconds"], lost["peak_memory"], lost["records"]) == ("lost", None, None, None)
