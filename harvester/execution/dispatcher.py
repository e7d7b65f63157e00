"""Dispatcher: how the runner and recovery ring the doorbell of a recorded run.

The run row in history is the record of what must run; a message is only the doorbell that makes
some process claim it. So a doorbell may ring twice (the claim drops the second) and a doorbell
that could not ring is not a lost run (recovery re-sends every run overdue by a grace period).
Two implementations: :class:`InlineDispatcher` here (``harvester run``: this process is the
worker) and the Celery one in :mod:`harvester.dispatch.celery_app`.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from harvester.request import RunRequest


class DispatchError(Exception):
    """The broker could not take a message. The run stays recorded; recovery sends it later."""


class Dispatcher(Protocol):
    def publish(self, requests: Sequence[RunRequest], *, countdown: float | None = None) -> None:
        """Send recorded runs to the workers (after ``countdown`` seconds). Raises DispatchError."""

    def publish_batches(self, batches: Sequence[Sequence[RunRequest]]) -> None:
        """Send recorded runs as one message per batch (the runs of a batch share a queue): a
        worker runs a batch's runs one after another, in order. Raises DispatchError."""

    def publish_gather(self, parent: RunRequest) -> None:
        """Send the gather of a fan-out parent whose members all ended. Raises DispatchError."""

    def revoke(self, run_ids: Sequence[str]) -> None:
        """Cancelled runs: drop their messages, and stop the processes running them. Raises DispatchError."""

    def consumers(self, queue: str) -> int | None:
        """How many workers consume ``queue`` now; None when that cannot be known (no answer channel)."""

    def queue_of(self, request: RunRequest) -> str:
        """The queue a run's message goes to."""


Kind = Literal["run", "gather"]


@dataclass(order=True)
class Job:
    due: float
    seq: int
    kind: Kind = field(compare=False)
    request: RunRequest = field(compare=False)


class InlineDispatcher:
    """An in-process queue, ordered by due time, that the caller drains (``harvester run``)."""

    def __init__(self) -> None:
        self._jobs: list[Job] = []
        self._seq = itertools.count()

    def publish(self, requests: Sequence[RunRequest], *, countdown: float | None = None) -> None:
        due = time.monotonic() + (countdown or 0.0)
        for request in requests:
            heapq.heappush(self._jobs, Job(due, next(self._seq), "run", request))

    def publish_batches(self, batches: Sequence[Sequence[RunRequest]]) -> None:
        """This process runs them in order, like any other runs it was handed."""
        for requests in batches:
            self.publish(requests)

    def publish_gather(self, parent: RunRequest) -> None:
        heapq.heappush(self._jobs, Job(time.monotonic(), next(self._seq), "gather", parent))

    def revoke(self, run_ids: Sequence[str]) -> None:
        """Drop the queued jobs of these runs (a run already running here is not interrupted)."""
        gone = set(run_ids)
        self._jobs = [job for job in self._jobs if job.request.run_id not in gone]
        heapq.heapify(self._jobs)

    def consumers(self, queue: str) -> int | None:
        """One: this process drains its own queue, whatever the queue's name."""
        return 1

    def queue_of(self, request: RunRequest) -> str:
        """The request's own queue, if any: here every queue is this process's."""
        return request.queue or ""

    def next_job(self) -> Job | None:
        """The job due first, or None when nothing is left."""
        return heapq.heappop(self._jobs) if self._jobs else None

    def pending(self) -> list[str]:
        """Run ids still in the queue (this process will run them: no one else needs to)."""
        return [job.request.run_id for job in self._jobs if job.kind == "run"]
