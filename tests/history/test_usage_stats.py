"""A collector's typical cost: medians and maxima over its recent runs that report figures."""

from __future__ import annotations

import pytest

from harvester.history.stats import Usage, usage_of


@pytest.mark.parametrize(
    ("rows", "usage"),
    [
        ([], Usage(0, None, None, None, None)),
        ([{"cpu_seconds": None, "peak_memory": None}], Usage(0, None, None, None, None)),
        ([{"cpu_seconds": 2.0, "peak_memory": 10}], Usage(1, 2.0, 2.0, 10, 10)),
        (
            [{"cpu_seconds": 1.0, "peak_memory": 10}, {"cpu_seconds": 3.0, "peak_memory": 30}, {"status": "queued"}],
            Usage(2, 2.0, 3.0, 20, 30),
        ),
        (
            [{"cpu_seconds": 0.1, "peak_memory": None}, {"cpu_seconds": None, "peak_memory": 5}],
            Usage(1, 0.1, 0.1, 5, 5),
        ),
    ],
)
def test_usage_of_some_runs(rows, usage):
    assert usage_of(rows) == usage
