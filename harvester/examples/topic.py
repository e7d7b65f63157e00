"""topic: the fan-out flow harvester was specified from (seed 004), as two small collectors.

``topic`` asks three ``topic_source`` members for numbers about a topic; they run in parallel
on the workers, each a run of its own. ``gather`` concatenates what they found, ``cleanup``
drops invalid items, ``process`` counts what is left under the flow's request id.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, Field

from harvester.collector import Collector, SubcollectorResult

#: Items a source may return; anything outside is invalid and dropped by ``cleanup``.
VALID = range(0, 100)


class TopicSource(Collector):
    name = "topic_source"
    description = "One source of a topic: a list of integers (deterministic per topic and source)."

    class Params(BaseModel):
        topic: str = Field(description="What to collect about.")
        source: int = Field(ge=1, description="Which source (1, 2, 3, ...).")
        delay: float = Field(0.0, ge=0, le=60, description="Seconds to wait first, like a slow upstream.")

    def collect(self) -> list[int]:
        if self.params.delay:
            import time

            time.sleep(self.params.delay)
        rng = random.Random(f"{self.params.topic}/{self.params.source}")
        return [rng.randint(-20, 120) for _ in range(rng.randint(5, 15))]


class Topic(Collector):
    name = "topic"
    description = "Fan-out example: sources in parallel, then gather -> cleanup -> process."
    steps = ("cleanup", "process")

    class Params(BaseModel):
        topic: str = Field("weather", description="What to collect about.")
        sources: int = Field(3, ge=1, le=1000, description="How many sources to ask in parallel.")
        delay: float = Field(0.0, ge=0, le=60, description="Seconds each source waits first.")

    def subcollectors(self) -> list[Collector]:
        p = self.params
        return [TopicSource(topic=p.topic, source=i, delay=p.delay) for i in range(1, p.sources + 1)]

    def gather(self, results: list[SubcollectorResult]) -> list[int]:
        for failed in (r for r in results if not r.ok):
            self.logger.warning("source %s failed: %s", failed.params.get("source"), failed.error)
        return [item for result in results if result.ok for item in result.value]

    def cleanup(self, items: list[Any]) -> list[int]:
        return [item for item in items if isinstance(item, int) and item in VALID]

    def process(self, items: list[int]) -> dict[str, Any]:
        return {"request_id": self.run_id, "item_count": len(items)}
