"""Fan-out collectors for tests: a parent whose members are the sample collectors, by spec."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sample_collectors import ConfigFail, FatalFail, Ok, RetryFail, Slow, Tokened

from harvester import Collector
from harvester.collector import SubcollectorResult

MEMBERS: dict[str, type[Collector]] = {c.name: c for c in (Ok, FatalFail, RetryFail, Slow, ConfigFail)}


class Member(BaseModel):
    collector: str
    params: dict[str, Any] = {}


class Fan(Collector):
    """Members as given; gather reports what succeeded and what failed, then ``total`` sums values."""

    name = "fan"
    steps = ("total",)

    class Params(Tokened):
        members: list[Member] = []

    def subcollectors(self) -> list[Collector]:
        return [MEMBERS[m.collector](**m.params) for m in self.params.members]

    def gather(self, results: list[SubcollectorResult]) -> dict[str, Any]:
        return {
            "values": [r.value for r in results if r.ok],
            "failed": [{"name": r.name, "category": r.error.category, "run_id": r.run_id} for r in results if r.error],
        }

    def total(self, gathered: dict[str, Any]) -> dict[str, Any]:
        values = [v["value"] for v in gathered["values"] if isinstance(v, dict) and "value" in v]
        return {**gathered, "total": sum(values)}


class FanAll(Fan):
    """The same, but every member must succeed."""

    name = "fan_all"
    require_all = True
