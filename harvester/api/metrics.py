"""``GET /metrics``: Prometheus exposition derived from run history at scrape time.

Counting in the process would be wrong twice over: runs happen in worker processes, and several API
processes would each count differently. History is the one record every process shares, so each
scrape reads a handful of SQL aggregates (see ``harvester.history.queries``). Families:

- ``harvester_runs_total{collector,status,category}``: finished runs (succeeded, failed, skipped) by
  failure category (empty when none).
- ``harvester_runs_active{collector,status}``: runs queued, running, waiting (a fan-out parent) or retrying now.
- ``harvester_run_duration_seconds{collector}``: histogram of finished attempts' durations.
- ``harvester_records_emitted_total{collector}``: records emitted by runs.
- ``harvester_last_success_timestamp_seconds{collector}``: Unix time of the last success.
- ``harvester_retries_total{collector}``: attempts that ended in a retry.
- ``harvester_skipped_overlaps_total{collector}``: runs skipped because the same run was in progress.
- ``harvester_queue_depth{queue}``: messages waiting in the broker (Redis and the embedded broker).
- ``harvester_alerts_total{target,status}``, ``harvester_alerts_pending{target}``,
  ``harvester_alert_attempts_total{outcome}``, ``harvester_alert_incidents_open{kind}``:
  alerts (:mod:`harvester.api.alert_metrics`).
- ``harvester_rate_limit_tokens_total{limit}``, ``..._waits_total``, ``..._wait_seconds_total``: the
  shared rate limits (:mod:`harvester.api.limit_metrics`).
- ``harvester_run_cpu_seconds{collector,quantile}``, ``harvester_run_peak_memory_bytes{collector,quantile}``:
  what the latest runs cost (:mod:`harvester.api.usage_metrics`).

Counters are lifetime totals from the summary table (``collector_summary``, kept by the database
as runs end): ``harvester runs prune`` does not lower them, and a scrape costs O(collectors).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from harvester.api.alert_metrics import alert_metrics
from harvester.api.broker import probe_connection
from harvester.api.limit_metrics import rate_limit_metrics
from harvester.api.overview import read_schedule
from harvester.api.usage_metrics import usage_metrics
from harvester.app import Harvester
from harvester.dispatch.celery_app import DEFAULT_QUEUE
from harvester.history.queries import MetricsSnapshot, metrics_snapshot
from harvester.history.store import FINISHED

log = logging.getLogger(__name__)

#: Seconds the queue-depth probe may spend connecting to the broker.
BROKER_TIMEOUT = 1.0


class HistoryCollector(Collector):
    """A prometheus-client collector that reads history on each ``collect()``."""

    def __init__(self, hv: Harvester) -> None:
        self.hv = hv

    def collect(self) -> Iterator[Metric]:
        yield from snapshot_metrics(metrics_snapshot(self.hv.store))
        yield from alert_metrics(self.hv)
        yield from rate_limit_metrics(self.hv)
        yield from usage_metrics(self.hv)
        depths = queue_depths(self.hv, known_queues(self.hv))
        if depths:
            gauge = GaugeMetricFamily("harvester_queue_depth", "Messages waiting in the broker.", labels=["queue"])
            for queue, depth in sorted(depths.items()):
                gauge.add_metric([queue], depth)
            yield gauge


def snapshot_metrics(snap: MetricsSnapshot) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "harvester_runs",
        "Finished runs by collector, status and failure category.",
        labels=["collector", "status", "category"],
    )
    skipped = CounterMetricFamily(
        "harvester_skipped_overlaps", "Runs skipped: the same collector + params was running.", labels=["collector"]
    )
    active = GaugeMetricFamily(
        "harvester_runs_active",
        "Runs not finished yet: queued, running, waiting or retrying.",
        labels=["collector", "status"],
    )
    for collector, status, category, count in snap.runs:
        if status not in FINISHED:
            active.add_metric([collector, status], count)
            continue
        runs.add_metric([collector, status, category], count)
        if status == "skipped":
            skipped.add_metric([collector], count)
    yield runs
    yield active
    yield skipped
    durations = HistogramMetricFamily(
        "harvester_run_duration_seconds", "Duration of finished runs' last attempts.", labels=["collector"]
    )
    for stats in snap.durations:
        buckets = [(_bound(le), float(n)) for le, n in stats.buckets] + [("+Inf", float(stats.count))]
        durations.add_metric([stats.collector], buckets, stats.total or 0.0)
    yield durations
    records = CounterMetricFamily("harvester_records_emitted", "Records emitted by runs.", labels=["collector"])
    for collector, count in sorted(snap.records.items()):
        records.add_metric([collector], count)
    yield records
    last = GaugeMetricFamily(
        "harvester_last_success_timestamp_seconds", "Unix time of the collector's last success.", labels=["collector"]
    )
    for collector, when in sorted(snap.last_success.items()):
        last.add_metric([collector], when.timestamp())
    yield last
    retries = CounterMetricFamily("harvester_retries", "Attempts that failed and were retried.", labels=["collector"])
    for collector, count in sorted(snap.retries.items()):
        retries.add_metric([collector], count)
    yield retries


def _bound(value: float) -> str:
    return repr(float(value))


def known_queues(hv: Harvester) -> set[str]:
    """The default queue, collectors' own and the schedule entries' ``queue:``."""
    loaded = read_schedule(hv).schedule
    entries = loaded.entries if loaded is not None else ()
    return {DEFAULT_QUEUE, *(cls.queue for cls in hv.registry if cls.queue), *(e.queue for e in entries if e.queue)}


def queue_depths(hv: Harvester, queues: Iterable[str]) -> dict[str, int]:
    """Waiting messages per queue, where the broker can count them cheaply: Redis (a list length) and
    the embedded file broker (files). Others, or a broker that does not answer, give nothing."""
    if not hv.settings.effective_broker_url.startswith(("redis://", "rediss://", "filesystem:")):
        return {}
    depths: dict[str, int] = {}
    try:
        with probe_connection(hv, BROKER_TIMEOUT) as conn:
            channel = conn.default_channel
            for queue in sorted(queues):
                try:
                    depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
                except conn.channel_errors:
                    depths[queue] = 0  # Redis drops an empty list's key: the queue is empty
    except Exception:
        log.warning("queue depth: the broker did not answer; left out of this scrape")
        return {}
    return depths


def router(hv: Harvester) -> APIRouter:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HistoryCollector(hv))
    api = APIRouter(tags=["operations"])

    @api.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}, "description": "Prometheus text format."}},
        summary="Prometheus metrics",
    )
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return api
