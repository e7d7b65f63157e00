"""A collector that costs what a test asks: CPU seconds burnt and megabytes held at once."""

from __future__ import annotations

import resource
from typing import Any

from pydantic import BaseModel

from harvester import Collector

PAGE = 4096


class Hungry(Collector):
    name = "hungry"
    description = "Burns `cpu` seconds of CPU and touches a `megabytes` buffer page by page."

    class Params(BaseModel):
        token: str = ""
        cpu: float = 0.0
        megabytes: int = 0

    def collect(self) -> dict[str, Any]:
        buffer = bytearray(self.params.megabytes * 2**20)
        for offset in range(0, len(buffer), PAGE):
            buffer[offset] = 1  # resident only once touched
        start = _cpu()
        spins = 0
        while _cpu() - start < self.params.cpu:
            spins += sum(range(1000))
        self.emit([{"id": self.params.token or "burnt", "spins": spins}])
        return {"bytes": len(buffer)}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
