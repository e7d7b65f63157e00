"""flaky_source: an upstream that fails now and then, to watch retries with backoff."""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, Field

from harvester.collector import Collector
from harvester.errors import TransientError


class FlakySource(Collector):
    name = "flaky_source"
    description = "Fails with a retryable error at the given rate; shows retries and backoff."
    retries = 3
    retry_backoff = 2.0

    class Params(BaseModel):
        failure_rate: float = Field(0.5, ge=0, le=1, description="Probability that an attempt fails.")
        retry_after: float | None = Field(None, ge=0, description="Seconds the 'server' asks us to wait.")

    def collect(self) -> dict[str, Any]:
        if random.random() < self.params.failure_rate:
            raise TransientError("upstream answered 503", retry_after=self.params.retry_after)
        return {"ok": True}
