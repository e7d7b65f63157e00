"""Acceptance: a limit of 10 per second shared by two workers of one process each, running 100
calls, with the buckets in SQLite (the embedded default), in Redis and in PostgreSQL: at least 9 s
in all, never more than 10 calls (plus one refill) in any one second."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.services]

RUNS, CALLS = 20, 5


def test_two_workers_share_one_bucket(limited_stack, tmp_path):
    stack = limited_stack
    stack.worker()
    stack.worker()
    log = tmp_path / "calls.log"
    requests = [
        stack.hv.request("paced", {"calls": CALLS, "log": str(log), "run": i}, trigger="api") for i in range(RUNS)
    ]
    run_ids = stack.hv.submit(requests)
    rows = [stack.wait(run_id, timeout=120) for run_id in run_ids]
    assert {row["status"] for row in rows} == {"succeeded"}, [row["error_message"] for row in rows]
    assert len({row["worker"] for row in rows}) == 2  # both worker processes took part
    times = sorted(float(line) for line in log.read_text().split())
    assert len(times) == RUNS * CALLS
    assert times[-1] - times[0] >= 9.0
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    print(f"{len(times)} calls in {times[-1] - times[0]:.2f} s, at most {busiest} in one second")
    assert busiest <= 11, f"{busiest} calls in one second"
    stats = {s.name: s for s in stack.hv.limiter.bucket.stats()}
    assert stats["acceptance"].tokens == RUNS * CALLS
    assert stats["acceptance"].waits > 0
