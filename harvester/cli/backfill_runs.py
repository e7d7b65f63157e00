"""The plan and the loop of ``harvester backfill``: one run per partition, at most N not ended at
once, the next submitted when one ends; a first Ctrl-C stops submitting and lets the runs under way end."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import Any

from harvester.app import Harvester
from harvester.backfill import partition_label
from harvester.execution.dispatcher import DispatchError
from harvester.history.backfills import earlier_runs, run_statuses
from harvester.history.states import FINISHED, SUCCEEDED
from harvester.request import RunRequest

#: Seconds between two looks at the history for the runs under way.
POLL_INTERVAL = 0.5


@dataclass
class Partition:
    """One partition value, its run request, and where it stands."""

    label: str
    request: RunRequest
    #: ``already`` (an earlier run succeeded), ``todo``, or the status of its run.
    status: str = "todo"
    run_id: str | None = None


@dataclass
class Plan:
    """The partitions of one backfill, in order, and its batch id."""

    collector: str
    batch_id: str
    partitions: list[Partition]

    def count(self, *statuses: str) -> int:
        return sum(1 for p in self.partitions if p.status in statuses)

    @property
    def failed(self) -> list[Partition]:
        return [p for p in self.partitions if p.status in FINISHED and p.status != SUCCEEDED]


def make_plan(
    hv: Harvester, name: str, params: Mapping[str, Any], param: str, values: list[Any], batch_id: str, force: bool
) -> Plan:
    """A request per value; a partition whose run already succeeded is ``already`` (unless ``force``),
    one with a run not ended yet is adopted: the backfill waits for that run instead of adding one."""
    cls = hv.registry.get(name)
    partitions: list[Partition] = []
    keys: list[str] = []
    for value in values:
        request = replace(hv.request(name, {**params, param: value}, trigger="backfill"), batch_id=batch_id)
        partitions.append(Partition(partition_label(value), request))
        keys.append(cls(**request.params).params_key())
    earlier = earlier_runs(hv.store, name, keys)
    for partition, key in zip(partitions, keys, strict=True):
        run = earlier.get(key)
        if run is None or (force and run.status == SUCCEEDED):
            continue
        partition.status = "already" if run.status == SUCCEEDED else run.status
        partition.run_id = run.run_id
    return Plan(name, batch_id, partitions)


class StopRequest:
    """SIGINT handler: the first Ctrl-C asks the loop to stop submitting; a second one leaves at once."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1:
            raise KeyboardInterrupt

    @property
    def requested(self) -> bool:
        return self.count > 0

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        previous = signal.signal(signal.SIGINT, self)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


@dataclass
class Loop:
    """Keeps at most ``concurrency`` runs of the plan not ended, until every partition has run."""

    hv: Harvester
    plan: Plan
    concurrency: int
    stop: StopRequest
    on_change: Callable[[Plan], None] = lambda _plan: None
    on_dispatch_error: Callable[[str], None] = lambda _message: None
    poll: float = POLL_INTERVAL
    in_flight: dict[str, Partition] = field(default_factory=dict)

    def run(self) -> None:
        adopted = [p for p in self.plan.partitions if p.run_id and p.status not in (*FINISHED, "already")]
        self.in_flight = {str(p.run_id): p for p in adopted}
        todo = [p for p in self.plan.partitions if p.status == "todo"]
        todo.reverse()  # popped from the end: in order
        while True:
            while todo and len(self.in_flight) < self.concurrency and not self.stop.requested:
                self._submit(todo.pop())
            self.on_change(self.plan)
            if not self.in_flight and (not todo or self.stop.requested):
                return
            time.sleep(self.poll)
            self._look()

    def _submit(self, partition: Partition) -> None:
        partition.run_id, partition.status = partition.request.run_id, "queued"
        self.in_flight[partition.request.run_id] = partition
        try:
            self.hv.submit([partition.request])
        except DispatchError as exc:  # recorded: recovery sends it once the broker is back
            self.on_dispatch_error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    def _look(self) -> None:
        for run_id, status in run_statuses(self.hv.store, list(self.in_flight)).items():
            self.in_flight[run_id].status = status
            if status in FINISHED:
                del self.in_flight[run_id]
