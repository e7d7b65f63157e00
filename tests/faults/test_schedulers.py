"""Two schedulers at once, one of them killed with -9: every occurrence of an every-10-seconds entry
yields exactly one set of runs, none is skipped while a scheduler lives, and every run ends.

Runs for HARVESTER_TEST_SCHEDULER_SECONDS (180 by default, the acceptance's three minutes)."""

from __future__ import annotations

import itertools
import os
import time
from datetime import timedelta

import pytest
from invariants import check_history, wait_all_final
from stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.services]

SECONDS = float(os.environ.get("HARVESTER_TEST_SCHEDULER_SECONDS", "180"))
SCHEDULE = """
groups:
  fast:
    tasks:
      - collector: ok
        schedule: every 10s
        params: {token: two-schedulers}
"""


@pytest.mark.timeout(SECONDS + 180)
def test_two_schedulers_dispatch_each_occurrence_once(stack, tmp_path):
    fault = Stack(
        tmp_path / "faulty",
        broker_url=stack.settings.broker_url,
        database_url=stack.settings.database_url,
        redeliver_after=3.0,
    )
    (fault.folder / "schedule.yaml").write_text(SCHEDULE)
    try:
        fault.worker()
        doomed, survivor = fault.beat(), fault.beat()
        time.sleep(SECONDS / 3)
        doomed.kill_all()  # kill -9 of one scheduler; the other goes on alone
        time.sleep(SECONDS * 2 / 3)
        survivor.kill_all()
        store = fault.hv.store
        wait_all_final(store, 60)
        check_history(store, grace=3.0)
        occurrences = [o for o in store.occurrences() if o["entry_key"].startswith("fast:")]
        due = [o["due_at"] for o in occurrences]
        assert len(due) >= SECONDS / 10 - 2, due
        assert len(set(due)) == len(due)
        gaps = [b - a for a, b in itertools.pairwise(due)]
        assert set(gaps) == {timedelta(seconds=10)}, gaps  # none missed, none twice
        scheduled = [r for r in store.list_runs(limit=10_000) if r["trigger"] == "schedule"]
        assert sorted(o["run_id"] for o in occurrences) == sorted(r["id"] for r in scheduled)
        assert {r["status"] for r in scheduled} == {"succeeded"}
        beats = [w.output() for w in fault.workers[1:]]
        assert sum(log.count("Sending due entry") for log in beats) == len(occurrences)  # one INFO line per dispatch
    finally:
        fault.close()
