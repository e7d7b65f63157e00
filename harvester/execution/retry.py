"""Retry policy: which failures retry, and after how long (pure functions)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from harvester.errors import FailureCategory, is_retryable


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` extra attempts; delay ``base * 2**(attempt-1)``, full jitter in [50%, 100%], capped."""

    retries: int = 3
    base: float = 60.0
    max_delay: float = 3600.0

    def should_retry(self, category: FailureCategory, attempt: int) -> bool:
        """``attempt`` is the 1-based number of the attempt that just failed."""
        return is_retryable(category) and attempt <= self.retries

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds before the next attempt; a server's ``Retry-After`` is honoured as given."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_delay))
        exponential = min(self.base * 2 ** max(attempt - 1, 0), self.max_delay)
        return float(exponential * (rng or random).uniform(0.5, 1.0))
