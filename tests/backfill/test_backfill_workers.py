"""harvester backfill on real workers: at most N at once (from the history timestamps), stopped
with Ctrl-C and resumed without running again what succeeded; a failed partition is run again."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.services]

DAYS = ("--from", "2026-01-01", "--to", "2026-01-30")


def _backfill(stack: Any, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "harvester", "backfill", "daily", *args]
    return subprocess.Popen(
        command, env=stack.env, cwd=stack.env["PWD"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _runs(stack: Any) -> list[dict[str, Any]]:
    return stack.hv.store.list_runs(collector="daily", limit=500)


def _wait_succeeded(stack: Any, count: int, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(r["status"] == "succeeded" for r in _runs(stack)) >= count:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise TimeoutError(f"fewer than {count} runs succeeded in {timeout}s")


def most_at_once(runs: list[dict[str, Any]]) -> int:
    """The most runs between their started_at and finished_at at one moment (an end before a start)."""
    events: list[tuple[datetime, int]] = []
    for run in runs:
        events += [(run["started_at"], 1), (run["finished_at"], -1)]
    running = most = 0
    for _, change in sorted(events):
        running += change
        most = max(most, running)
    return most


def test_thirty_days_three_at_once_stopped_after_ten_and_resumed(backfill_stack):
    stack = backfill_stack
    stack.worker("--concurrency", "4")  # more worker processes than the backfill may use
    first = _backfill(stack, *DAYS, "--concurrency", "3", "--delay", "0.6")
    _wait_succeeded(stack, 10, first)
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, (out, err)
    assert "stopped:" in err
    assert "resume with the same command" in err
    assert "harvester backfill daily --from 2026-01-01 --to 2026-01-30 --concurrency 3 --delay 0.6" in err
    stopped = _runs(stack)
    assert 10 <= len(stopped) < 30
    assert {r["status"] for r in stopped} == {"succeeded"}  # the runs under way ended

    second = _backfill(stack, *DAYS, "--concurrency", "3", "--delay", "0.6", "--json")
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, (out, err)
    summary = json.loads(out)
    assert (summary["partitions"], summary["already_succeeded"]) == (30, len(stopped))
    assert (summary["succeeded"], summary["failed"], summary["not_run"]) == (30 - len(stopped), 0, 0)

    runs = _runs(stack)
    assert len(runs) == 30
    per_day = Counter(r["params"]["day"] for r in runs)
    assert sorted(per_day) == [f"2026-01-{d:02d}" for d in range(1, 31)]
    assert set(per_day.values()) == {1}  # the first ten (and those under way then) did not run again
    assert {r["status"] for r in runs} == {"succeeded"}
    assert {r["trigger"] for r in runs} == {"backfill"}
    assert {r["batch_id"] for r in runs} == {summary["backfill"]}  # one group across stop and resume
    assert 2 <= most_at_once(runs) <= 3


def test_a_failed_partition_exits_1_and_runs_again_on_resume(backfill_stack):
    stack = backfill_stack
    stack.worker()
    marker = stack.folder / "fail-2026-01-03"
    marker.touch()
    days = ("--from", "2026-01-01", "--to", "2026-01-05", "--concurrency", "2")
    first = _backfill(stack, *days)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 1, (out, err)
    assert "5 partitions, 0 had succeeded before, 4 succeeded, 1 failed" in out
    assert "2026-01-03: failed (harvester runs show " in out

    marker.unlink()
    second = _backfill(stack, *days)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, (out, err)
    assert "5 partitions, 4 had succeeded before, 1 succeeded, 0 failed" in out
    per_day = Counter((r["params"]["day"], r["status"]) for r in _runs(stack))
    assert per_day[("2026-01-03", "failed")] == per_day[("2026-01-03", "succeeded")] == 1
    assert sum(per_day.values()) == 6


def test_most_at_once_counts_overlaps():
    def run(start: int, end: int) -> dict[str, Any]:
        return {"started_at": datetime(2026, 1, 1, 0, 0, start), "finished_at": datetime(2026, 1, 1, 0, 0, end)}

    assert most_at_once([run(0, 2), run(1, 3), run(2, 4)]) == 2  # one ends as the next starts
    assert most_at_once([run(0, 5), run(1, 3), run(2, 4)]) == 3
