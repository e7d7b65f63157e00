"""What runs cost, for ``GET /metrics``: per collector, the median and the largest CPU seconds and peak
memory of its latest runs (their last attempts), read at scrape time:

- ``harvester_run_cpu_seconds{collector,quantile}``: CPU seconds (user + system) of the process
  that ran the attempt, during it; ``quantile`` is ``0.5`` (median) or ``1`` (largest).
- ``harvester_run_peak_memory_bytes{collector,quantile}``: that process's peak resident memory
  during the attempt.

Gauges over a window (the latest :data:`USAGE_WINDOW` runs of each collector, one index read each),
not lifetime counters: a scrape costs the same however long the history is.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from harvester.app import Harvester
from harvester.history.stats import recent_runs, usage_of

#: How many of each collector's latest runs the figures are taken from.
USAGE_WINDOW = 20


def usage_metrics(hv: Harvester) -> Iterator[Metric]:
    """The two families (a collector whose recent runs report no figures has no sample)."""
    cpu = GaugeMetricFamily(
        "harvester_run_cpu_seconds",
        f"CPU seconds of a run's last attempt: median (quantile 0.5) and largest (1) of the latest {USAGE_WINDOW}.",
        labels=["collector", "quantile"],
    )
    memory = GaugeMetricFamily(
        "harvester_run_peak_memory_bytes",
        f"Peak resident memory of the process during a run's last attempt: median (quantile 0.5) and largest (1) "
        f"of the latest {USAGE_WINDOW}.",
        labels=["collector", "quantile"],
    )
    recent = recent_runs(hv.store, [cls.name for cls in hv.registry], USAGE_WINDOW)
    for collector, rows in sorted(recent.items()):
        usage = usage_of(rows)
        if usage.cpu_median is not None and usage.cpu_max is not None:
            cpu.add_metric([collector, "0.5"], usage.cpu_median)
            cpu.add_metric([collector, "1"], usage.cpu_max)
        if usage.memory_median is not None and usage.memory_max is not None:
            memory.add_metric([collector, "0.5"], usage.memory_median)
            memory.add_metric([collector, "1"], usage.memory_max)
    yield cpu
    yield memory
