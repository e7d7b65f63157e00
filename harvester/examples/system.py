"""system_metrics: a snapshot of this machine's CPU, memory, disks and load, as records."""

from __future__ import annotations

import socket
from typing import Any

import psutil
from pydantic import BaseModel, Field

from harvester.collector import Collector


class SystemMetrics(Collector):
    name = "system_metrics"
    description = "CPU, memory, disk and load of this machine (psutil), one record per metric."

    class Params(BaseModel):
        sample_seconds: float = Field(0.2, ge=0, le=10, description="CPU sampling window, seconds.")

    def collect(self) -> dict[str, Any]:
        host = socket.gethostname()
        metrics: dict[str, float] = {
            "cpu_percent": psutil.cpu_percent(interval=self.params.sample_seconds),
            "memory_percent": psutil.virtual_memory().percent,
            "load_1m": psutil.getloadavg()[0],
        }
        for part in psutil.disk_partitions(all=False):
            try:
                metrics[f"disk_percent:{part.mountpoint}"] = psutil.disk_usage(part.mountpoint).percent
            except OSError:
                continue
        self.emit(
            ({"id": f"{host}/{name}", "host": host, "metric": name, "value": value} for name, value in metrics.items()),
            key="id",
        )
        return {"host": host, "metrics": len(metrics), "cpu_percent": metrics["cpu_percent"]}
