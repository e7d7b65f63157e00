"""A run waiting for tokens on a real worker: its status says so, and cancelling it ends the wait."""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.services]


def _poll(stack, run_id, check, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = stack.hv.store.get_run(run_id)
        if check(row):
            return row
        time.sleep(0.1)
    raise AssertionError(f"run {run_id}: {row}\n{stack.workers[0].output()[-3000:]}")


def test_a_waiting_run_says_so_and_a_cancel_ends_its_wait(limited_stack):
    stack = limited_stack
    stack.worker()
    run_id = stack.trigger("starved")
    row = _poll(stack, run_id, lambda r: r["waiting_for"] is not None)
    assert (row["status"], row["waiting_for"]) == ("running", "rate limit starved")
    assert stack.hv.cancel(run_id).recorded
    _poll(stack, run_id, lambda r: r["status"] == "cancelled" and r["waiting_for"] is None)
    assert [(s.name, s.tokens) for s in stack.hv.limiter.bucket.stats()] == [("starved", 1)]  # the wait got none
