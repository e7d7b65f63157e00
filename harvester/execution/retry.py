"""Retry policy: which failures retry, and after how long (pure functions)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from harvester.errors import FailureCategory, is_own_time_limit, is_retryable


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed attempt is tried again, and after how long.

    - ``retries``: extra attempts of a retryable failure.
    - ``base``, ``max_delay`` (seconds): delay ``base * 2**(attempt-1)``, full jitter in [50%, 100%], capped.
    - ``retry_time_limit``: also retry a run stopped by its own time limit (off: it would most likely
      hit the limit again, holding a worker for the whole limit each time). Timeouts of the calls a
      collector makes are retried either way.
    """

    retries: int = 3
    base: float = 60.0
    max_delay: float = 3600.0
    retry_time_limit: bool = False

    def should_retry(self, category: FailureCategory, attempt: int, exc: BaseException | None = None) -> bool:
        """``attempt`` is the 1-based number of the attempt that just failed, ``exc`` its exception."""
        if exc is not None and is_own_time_limit(exc) and not self.retry_time_limit:
            return False
        return is_retryable(category) and attempt <= self.retries

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds before the next attempt; a server's ``Retry-After`` is honoured as given."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_delay))
        exponential = min(self.base * 2 ** max(attempt - 1, 0), self.max_delay)
        return float(exponential * (rng or random).uniform(0.5, 1.0))
