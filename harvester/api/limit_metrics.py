"""The rate limit families of ``GET /metrics``, read at scrape time from where the buckets live (Redis
or the history database), so every API process shows the same totals:

- ``harvester_rate_limit_tokens_total{limit}``: tokens granted.
- ``harvester_rate_limit_waits_total{limit}``: takes that had to wait for their tokens.
- ``harvester_rate_limit_wait_seconds_total{limit}``: seconds those takes waited.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from harvester.app import Harvester

log = logging.getLogger(__name__)


def rate_limit_metrics(hv: Harvester) -> Iterator[Metric]:
    """The three families; none when the buckets' store does not answer (the rest of the scrape stands)."""
    try:
        stats = hv.limiter.bucket.stats()
    except Exception as exc:
        log.warning("rate limits: their store did not answer (%s); left out of this scrape", type(exc).__name__)
        return
    tokens = CounterMetricFamily("harvester_rate_limit_tokens", "Tokens granted by each rate limit.", labels=["limit"])
    waits = CounterMetricFamily(
        "harvester_rate_limit_waits", "Takes of each rate limit that waited for their tokens.", labels=["limit"]
    )
    seconds = CounterMetricFamily(
        "harvester_rate_limit_wait_seconds", "Seconds runs waited for tokens of each rate limit.", labels=["limit"]
    )
    for limit in stats:
        tokens.add_metric([limit.name], limit.tokens)
        waits.add_metric([limit.name], limit.waits)
        seconds.add_metric([limit.name], limit.wait_seconds)
    yield tokens
    yield waits
    yield seconds
