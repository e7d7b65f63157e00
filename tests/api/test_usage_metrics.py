"""GET /metrics: what the latest runs of each collector cost (median and largest CPU and memory)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from harvester.history.engine import utcnow
from harvester.history.store import NewRun, Outcome

MB = 2**20


def record(hv, run_id: str, cpu: float, memory: int) -> None:
    hv.store.create_runs([NewRun(run_id=run_id, collector="ok", params={}, params_key=run_id, trigger="api")])
    hv.store.claim(run_id, stale_before=utcnow())
    hv.store.finish(run_id, 1, Outcome("succeeded", cpu_seconds=cpu, peak_memory=memory))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_give_each_collectors_median_and_largest_cpu_and_memory(client, hv):
    for i, (cpu, memory) in enumerate([(0.5, 100 * MB), (1.5, 300 * MB), (1.0, 200 * MB)]):
        record(hv, f"r{i}", cpu, memory)
    hv.store.create_runs([NewRun(run_id="q", collector="ok", params={}, params_key="q", trigger="api")])  # no figures
    found = samples(client.get("/metrics").text)
    ok = (("collector", "ok"),)
    assert found[("harvester_run_cpu_seconds", (*ok, ("quantile", "0.5")))] == 1.0
    assert found[("harvester_run_cpu_seconds", (*ok, ("quantile", "1")))] == 1.5
    assert found[("harvester_run_peak_memory_bytes", (*ok, ("quantile", "0.5")))] == 200 * MB
    assert found[("harvester_run_peak_memory_bytes", (*ok, ("quantile", "1")))] == 300 * MB


def test_a_collector_without_figures_has_no_sample(client, hv):
    hv.store.create_runs([NewRun(run_id="q", collector="ok", params={}, params_key="q", trigger="api")])
    found = samples(client.get("/metrics").text)
    assert not [key for key in found if key[0].startswith("harvester_run_cpu_seconds")]
