"""The alert loop: evaluate, then deliver, every ``interval`` seconds, in a thread of its own.

The scheduler (beat) calls the service on each tick; the call only makes sure the thread runs,
so a slow database or a hanging target delays alerts, never a schedule tick (and never a run:
workers take no part in alerts). An error in one pass is logged and the next pass tries again.
Once an hour it deletes the incidents resolved longer than ``HARVESTER_RETENTION_DAYS`` ago.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from harvester.alerts.delivery import Deliverer
from harvester.alerts.evaluator import Evaluator
from harvester.history.engine import utcnow

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)


class AlertService:
    """- ``interval``: seconds between two passes.
    - ``retention``: resolved incidents (and their alerts) older than this are deleted, once an
      hour; None keeps them."""

    def __init__(
        self,
        evaluator: Evaluator,
        deliverer: Deliverer,
        interval: float,
        clock: Callable[[], datetime] = utcnow,
        retention: timedelta | None = None,
    ) -> None:
        self.evaluator = evaluator
        self.deliverer = deliverer
        self.interval = interval
        self.clock = clock
        self.retention = retention
        self._pruned: datetime | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def run_once(self) -> None:
        """One pass: evaluate, then deliver what is due (also what the evaluation just recorded)."""
        try:
            self.evaluator.evaluate(self.clock())
        except Exception:
            log.exception("alert evaluation failed; trying again in %.0f s", self.interval)
        try:
            self.deliverer.deliver_due(self.clock())
        except Exception:
            log.exception("alert delivery failed; trying again in %.0f s", self.interval)
        self._prune(self.clock())

    def _prune(self, now: datetime) -> None:
        if self.retention is None or (self._pruned is not None and now - self._pruned < PRUNE_EVERY):
            return
        self._pruned = now
        try:
            self.evaluator.store.prune(now - self.retention)
        except Exception:
            log.exception("old alerts not pruned; trying again in an hour")

    def __call__(self) -> None:
        """The scheduler's tick hook: start the loop if it is not running (again, if it died)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="harvester-alerts", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
