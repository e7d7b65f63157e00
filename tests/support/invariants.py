"""The invariants of the run model, checked over a whole history after a fault has cleared.

- every accepted run ends (``wait_all_final``: within a bound the test states);
- each schedule occurrence has exactly one set of runs;
- no two live (running/waiting) runs share an overlap lock key;
- no state version was written by a superseded attempt (a state row names a run that succeeded);
- nothing stays queued/retrying past its due time + grace.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from harvester.history.engine import utcnow
from harvester.history.models import collector_state, occurrences, runs
from harvester.history.store import Store

FINAL = ("succeeded", "failed", "skipped")


def all_runs(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(runs)).mappings()]


def wait_all_final(store: Store, bound: float, *, expected: int | None = None, poll: float = 0.2) -> float:
    """Wait until every run (and at least ``expected`` of them) has ended; how long it took.
    Fails naming the runs still open after ``bound`` seconds."""
    started = time.monotonic()
    while True:
        rows = all_runs(store)
        open_rows = [r for r in rows if r["status"] not in FINAL]
        if not open_rows and (expected is None or len(rows) >= expected):
            return time.monotonic() - started
        if time.monotonic() - started > bound:
            described = [(r["id"][:8], r["collector"], r["status"], r["next_attempt_at"]) for r in open_rows]
            raise AssertionError(f"{len(open_rows)} of {len(rows)} runs not final after {bound:.0f} s: {described}")
        time.sleep(poll)


def check_history(store: Store, *, grace: float, now: datetime | None = None) -> None:
    """Assert every invariant that holds at any moment (not only once all runs ended)."""
    now = now or utcnow()
    rows = all_runs(store)
    by_id = {r["id"]: r for r in rows}
    problems: list[str] = []

    live_locks = Counter(r["lock_key"] for r in rows if r["status"] in ("running", "waiting") and r["lock_key"])
    problems += [f"lock {key} held by {n} live runs" for key, n in live_locks.items() if n > 1]

    for r in rows:
        if r["status"] in ("queued", "retrying"):
            due = r["next_attempt_at"]
            if due is None:
                problems.append(f"run {r['id']} is {r['status']} without a due time")
            elif due + timedelta(seconds=grace) < now:
                problems.append(f"run {r['id']} is {r['status']}, due {due}, overdue past grace {grace} s")
        if r["status"] in FINAL and r["finished_at"] is None:
            problems.append(f"run {r['id']} is {r['status']} without finished_at")
        if r["parent_run_id"] is not None and r["parent_run_id"] not in by_id:
            problems.append(f"member {r['id']} has no parent row")

    with store.engine.connect() as conn:
        occurrence_rows = [dict(o) for o in conn.execute(select(occurrences)).mappings()]
        state_rows = [dict(s) for s in conn.execute(select(collector_state)).mappings()]
    first_runs = Counter(o["run_id"] for o in occurrence_rows if o["run_id"])
    problems += [f"run {run_id} is the first run of {n} occurrences" for run_id, n in first_runs.items() if n > 1]
    problems += [f"occurrence run {run_id} is not in history" for run_id in first_runs if run_id not in by_id]
    scheduled = [r for r in rows if r["trigger"] == "schedule"]
    if occurrence_rows and len(scheduled) < len(first_runs):
        problems.append(f"{len(first_runs)} occurrences with runs but {len(scheduled)} scheduled runs")

    for state in state_rows:
        writer = by_id.get(state["run_id"])
        if writer is not None and writer["status"] != "succeeded":
            problems.append(f"state of {state['collector']} v{state['version']} written by {writer['status']} run")

    assert not problems, "history invariants broken:\n" + "\n".join(problems)
