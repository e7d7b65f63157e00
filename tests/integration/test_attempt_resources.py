"""Each attempt records what it cost on a real worker: CPU seconds and peak memory of its process,
and the records it emitted (docs/history.md, "Resource usage": how it is measured, and its limits)."""

from __future__ import annotations

import pytest
from stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.services]

MB = 2**20


@pytest.fixture
def stack(tmp_path):
    made = Stack(tmp_path / "stack", collectors=["sample_collectors", "resource_collectors"], concurrency=1)
    yield made
    made.close()


def test_a_run_that_burns_cpu_and_holds_100_mb_shows_both_in_its_history_row(stack):
    stack.worker()
    idle = stack.wait(stack.trigger("hungry", token="idle"), timeout=60)
    hungry = stack.wait(stack.trigger("hungry", token="hungry", cpu=1.0, megabytes=100), timeout=60)
    assert (idle["status"], hungry["status"]) == ("succeeded", "succeeded")
    assert hungry["cpu_seconds"] >= 0.8
    assert idle["cpu_seconds"] < hungry["cpu_seconds"] - 0.5
    # one worker child runs both (concurrency 1): the idle run's peak is that process's baseline
    assert hungry["peak_memory"] - idle["peak_memory"] >= 90 * MB, (idle["peak_memory"], hungry["peak_memory"])
    assert hungry["records"] == 1
    [attempt] = stack.hv.store.attempts(hungry["id"])
    assert (attempt["cpu_seconds"], attempt["peak_memory"], attempt["records"]) == (
        hungry["cpu_seconds"],
        hungry["peak_memory"],
        1,
    )
