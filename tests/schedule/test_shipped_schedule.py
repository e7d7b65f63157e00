"""The schedule.yaml shipped at the repository root (what `./dev up` runs) stays valid."""

from __future__ import annotations

from pathlib import Path

from harvester.registry import Registry
from harvester.schedule.loader import load_schedule

REPO = Path(__file__).resolve().parents[2]


def test_shipped_schedule_loads_strictly_against_the_examples():
    loaded = load_schedule(REPO / "schedule.yaml", Registry.discover(["harvester.examples"]), strict=True)
    assert [e.collector for e in loaded.enabled] == ["system_metrics", "python_packages", "flaky_source"]
