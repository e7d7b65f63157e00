"""Delivering the outbox: each due alert sent to its target, each attempt recorded, failures retried.

A failed attempt is tried again after ``retry_delay * 2 ** (attempt - 1)`` seconds (at most
``retry_max_delay``), until ``max_attempts`` attempts failed: then the delivery is given up
(``failed``). Each target is sent to in a thread of its own, so a hanging one delays only its
own alerts. A delivery is claimed for a lease before it is sent, so a second scheduler does not
send it too; a process that dies while sending leaves it to be sent again once the lease ends
(a receiver dedupes on the alert's ``id``).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from harvester.alerts.config import TargetConfig
from harvester.alerts.targets import DeliveryError, send
from harvester.history.alerts import DELIVERED, GAVE_UP, PENDING, AlertStore

log = logging.getLogger(__name__)

#: Sends one alert to one target within a timeout, or raises DeliveryError.
Send = Callable[[TargetConfig, Mapping[str, Any], float], None]


@dataclass(frozen=True)
class DeliveryPolicy:
    """- ``timeout``: seconds one attempt may take.
    - ``retry_delay``, ``retry_max_delay``: the backoff after a failed attempt, seconds.
    - ``max_attempts``: attempts before a delivery is given up."""

    timeout: float = 10.0
    retry_delay: float = 30.0
    retry_max_delay: float = 3600.0
    max_attempts: int = 10

    @property
    def lease(self) -> timedelta:
        """How long a claimed delivery is left to its sender (an attempt, with room to record it)."""
        return timedelta(seconds=2 * self.timeout + 30)

    def backoff(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1, 2, ...)."""
        return timedelta(seconds=min(self.retry_delay * 2 ** max(attempt - 1, 0), self.retry_max_delay))


class Deliverer:
    def __init__(
        self, store: AlertStore, targets: Mapping[str, TargetConfig], policy: DeliveryPolicy, sender: Send = send
    ) -> None:
        self.store = store
        self.targets = targets
        self.policy = policy
        self.sender = sender

    def deliver_due(self, now: datetime) -> int:
        """Attempt the deliveries due by ``now``, each target's in a thread of its own; how many were attempted.

        After a failed attempt the target's other deliveries wait for the next pass (a dead or hanging
        target costs one timeout per pass, and delays no other target)."""
        by_target: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for delivery in self.store.claim_due(now, self.policy.lease):
            by_target[delivery["target"]].append(delivery)
        if not by_target:
            return 0
        with ThreadPoolExecutor(len(by_target), thread_name_prefix="harvester-alert") as pool:
            return sum(pool.map(lambda batch: self._deliver(batch, now), by_target.values()))

    def _deliver(self, batch: list[dict[str, Any]], now: datetime) -> int:
        for done, delivery in enumerate(batch, 1):
            if self.attempt(delivery, now) is not None:
                return done
        return len(batch)

    def attempt(self, delivery: Mapping[str, Any], now: datetime, *, retry: bool = True) -> str | None:
        """Send once and record it; the error (None: delivered). Without ``retry`` a failure gives up."""
        number = int(delivery["attempts"]) + 1
        started = time.monotonic()
        error = self._send(delivery)
        duration = time.monotonic() - started
        if error is None:
            status, next_at = DELIVERED, None
        elif retry and number < self.policy.max_attempts:
            status, next_at = PENDING, now + timedelta(seconds=duration) + self.policy.backoff(number)
        else:
            status, next_at = GAVE_UP, None
        record = {"attempt": number, "started_at": now, "duration": duration, "ok": error is None, "error": error}
        self.store.record_attempt(delivery["id"], record, status=status, next_attempt_at=next_at)
        level = logging.INFO if error is None else logging.WARNING
        log.log(level, "alert %s to %s: attempt %d %s", delivery["event"], delivery["target"], number, error or "ok")
        return error

    def _send(self, delivery: Mapping[str, Any]) -> str | None:
        config = self.targets.get(delivery["target"])
        if config is None:
            return f"no target named {delivery['target']!r} in HARVESTER_ALERT_TARGETS"
        try:
            self.sender(config, delivery["payload"], self.policy.timeout)
        except DeliveryError as exc:
            return str(exc) or type(exc).__name__
        except Exception as exc:  # a bug in a sender must not stop the loop; recorded, not raised
            log.exception("alert delivery to %s failed unexpectedly", delivery["target"])
            return f"unexpected {type(exc).__name__}"
        return None
