"""`harvester beat` dispatching schedule.yaml to real workers."""

from __future__ import annotations

import itertools
import textwrap
import time

import pytest
from stack import runs_with_token, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.services]

SCHEDULE = """
groups:
  cadence:
    tasks:
      - collector: ok
        schedule: every 2s
        params: {token: cadence}
  pair:
    tasks:
      - collector: slow
        schedule: every 5s
        params: {token: first, marker_dir: MARKERS, seconds: 0.5}
      - collector: ok
        schedule: every 5s
        params: {token: second}
"""


@pytest.fixture
def scheduled(stack, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    (tmp_path / "stack").mkdir(exist_ok=True)
    stack.settings.schedule_file.write_text(textwrap.dedent(SCHEDULE).replace("MARKERS", str(markers)))
    return stack


def test_every_2s_entry_runs_at_its_cadence_and_a_group_runs_in_order(scheduled):
    stack = scheduled
    stack.worker()
    stack.beat()
    wait_until(lambda: len([r for r in runs_with_token(stack, "cadence") if r["status"] == "succeeded"]) >= 4)
    cadence = runs_with_token(stack, "cadence")
    assert {r["trigger"] for r in cadence} == {"schedule"}
    gaps = [(b["queued_at"] - a["queued_at"]).total_seconds() for a, b in itertools.pairwise(cadence)]
    assert all(1.0 <= gap <= 4.5 for gap in gaps[:3]), gaps  # every 2 s, give or take a beat tick
    wait_until(lambda: any(r["status"] == "succeeded" for r in runs_with_token(stack, "second")))
    first = next(r for r in runs_with_token(stack, "first") if r["status"] == "succeeded")
    second = next(r for r in runs_with_token(stack, "second") if r["status"] == "succeeded")
    assert first["finished_at"] <= second["started_at"]  # one after another, in file order


def test_two_beats_dispatch_each_occurrence_once(scheduled):
    stack = scheduled
    stack.worker()
    stack.beat()
    stack.beat()
    wait_until(lambda: len(runs_with_token(stack, "cadence")) >= 10, timeout=60)
    occurrences = [o for o in stack.hv.store.occurrences() if o["entry_key"].startswith("cadence:")]
    cadence = runs_with_token(stack, "cadence")
    assert len({o["due_at"] for o in occurrences}) == len(occurrences)
    dispatched = {o["run_id"] for o in occurrences}
    assert {r["id"] for r in cadence} <= dispatched  # every run belongs to exactly one occurrence
    assert len(cadence) <= len(occurrences)


def test_enabling_an_entry_in_the_file_makes_it_run_without_a_restart(scheduled):
    stack = scheduled
    path = stack.settings.schedule_file
    path.write_text(
        textwrap.dedent("""
        groups:
          later:
            tasks:
              - collector: ok
                schedule: every 2s
                enabled: false
                params: {token: hot}
    """)
    )
    stack.worker()
    stack.beat()
    time.sleep(4)
    assert runs_with_token(stack, "hot") == []
    path.write_text(path.read_text().replace("enabled: false", "enabled: true"))
    wait_until(lambda: any(r["status"] == "succeeded" for r in runs_with_token(stack, "hot")), timeout=30)


def test_a_bad_schedule_file_stops_start_up_in_strict_mode(scheduled):
    import subprocess
    import sys

    stack = scheduled
    stack.settings.schedule_file.write_text(
        "groups:\n  g:\n    tasks:\n      - collector: okk\n        schedule: daily\n"
    )
    for command in ("worker", "beat"):
        done = subprocess.run(
            [sys.executable, "-m", "harvester", command],
            env=stack.env,
            cwd=stack.folder,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2
        assert "schedule.yaml:4: unknown collector 'okk' (did you mean 'ok'?)" in done.stderr
