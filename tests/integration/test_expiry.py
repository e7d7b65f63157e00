"""Expiry on real workers: occurrences beat records while no worker runs are `expired` once their
expiry (by default the entry's period) passed, not run late; the next occurrence runs on time."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from stack import runs_with_token, wait_until

from harvester.history.engine import utcnow

pytestmark = [pytest.mark.slow, pytest.mark.services]

PERIOD = 3.0
ENDED = ("succeeded", "failed", "expired")
SCHEDULE = """
groups:
  often:
    tasks:
      - collector: ok
        schedule: every 3s
        params: {token: expiry}
"""


def test_occurrences_missed_while_the_workers_were_down_expire_and_the_next_runs_on_time(stack):
    stack.settings.schedule_file.write_text(SCHEDULE)
    worker = stack.worker()
    stack.beat()
    wait_until(lambda: any(r["status"] == "succeeded" for r in runs_with_token(stack, "expiry")))
    worker.kill_all()
    down_at = utcnow()
    time.sleep(4 * PERIOD)  # beat goes on recording occurrences nobody runs
    stack.worker()
    back_at = utcnow()
    wait_until(lambda: any(r["queued_at"] > back_at and r["status"] in ENDED for r in runs_with_token(stack, "expiry")))
    rows = runs_with_token(stack, "expiry")
    missed = [r for r in rows if r["queued_at"] > down_at and r["queued_at"] + timedelta(seconds=PERIOD) < back_at]
    assert len(missed) >= 2, [(r["queued_at"], r["status"]) for r in rows]
    wait_until(lambda: all(stack.hv.store.get_run(r["id"])["status"] == "expired" for r in missed))
    for run in (stack.hv.store.get_run(r["id"]) for r in missed):
        assert (run["started_at"], run["attempt"]) == (None, 0)
        assert run["error_message"].startswith("expired: not started by its expiry")
        assert run["expires_at"] == run["queued_at"] + timedelta(seconds=PERIOD)
    after = next(r for r in runs_with_token(stack, "expiry") if r["queued_at"] > back_at)
    assert after["status"] == "succeeded"  # the first occurrence after the restart ran, within its expiry
    assert after["started_at"] < after["expires_at"]
