"""The alert families of ``/metrics``, read from the alert tables at scrape time (like every family).

- ``harvester_alerts_total{target,status}``: alerts by target that ended ``delivered`` or ``failed``
  (given up after their attempts).
- ``harvester_alerts_pending{target}``: alerts not delivered yet (being sent or retried).
- ``harvester_alert_attempts_total{outcome}``: delivery attempts, ``ok`` or ``error``.
- ``harvester_alert_incidents_open{kind}``: incidents open now.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from harvester.app import Harvester
from harvester.history.alerts import PENDING, AlertStore

log = logging.getLogger(__name__)


def alert_metrics(hv: Harvester) -> Iterator[Metric]:
    store = AlertStore(hv.store)
    try:
        deliveries, attempts, incidents = store.delivery_counts(), store.attempt_counts(), store.open_incidents()
    except Exception:
        log.warning("alert metrics: the alert tables could not be read; left out of this scrape")
        return
    sent = CounterMetricFamily(
        "harvester_alerts", "Alerts delivered or given up, by target.", labels=["target", "status"]
    )
    pending = GaugeMetricFamily("harvester_alerts_pending", "Alerts not delivered yet, by target.", labels=["target"])
    for (target, status), count in sorted(deliveries.items()):
        if status == PENDING:
            pending.add_metric([target], count)
        else:
            sent.add_metric([target, status], count)
    yield sent
    yield pending
    tries = CounterMetricFamily("harvester_alert_attempts", "Alert delivery attempts by outcome.", labels=["outcome"])
    for ok, count in sorted(attempts.items()):
        tries.add_metric(["ok" if ok else "error"], count)
    yield tries
    open_now = GaugeMetricFamily("harvester_alert_incidents_open", "Incidents open now, by kind.", labels=["kind"])
    for kind, count in sorted(Counter(i["kind"] for i in incidents).items()):
        open_now.add_metric([kind], count)
    yield open_now
