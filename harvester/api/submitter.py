"""Submitter: group commit for the API's triggers.

A trigger waits in the event loop while one drainer hands everything pending to
``Harvester.submit`` in one worker thread: all their runs recorded in one transaction, then their
messages sent through one producer. Under load, N concurrent triggers cost one thread hop, one
commit and one broker round trip instead of N of each; alone, a trigger is handed on at once (no
timer). Nothing is answered before its run is recorded.

Each trigger learns its own batch's fate, so the route's answers stay what they were:

- the batch recorded and sent: the trigger returns;
- recorded, not sent (DispatchError): every trigger of the batch raises it (recovery sends them);
- not recorded because of one row (a value or constraint the database refuses: DataError,
  IntegrityError): the batch is tried again one run at a time, so only that run's trigger fails;
- not recorded for any other reason: every trigger of the batch raises the error (the database
  unreachable: the API answers 503).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import DataError, IntegrityError

from harvester.request import RunRequest

#: Runs per batch at most: a burst beyond it goes in several transactions, one after another.
MAX_BATCH = 256

Pending = tuple[RunRequest, "asyncio.Future[None]"]


class Submitter:
    """Options: ``submit`` (records and publishes a list of runs, ``Harvester.submit``);
    ``max_batch`` (runs per transaction at most, MAX_BATCH by default). Used from one event loop."""

    def __init__(self, submit: Callable[[Sequence[RunRequest]], object], max_batch: int = MAX_BATCH) -> None:
        self._submit = submit
        self.max_batch = max_batch
        self._pending: list[Pending] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, request: RunRequest) -> None:
        """Return once ``request`` is recorded and sent; raise what recording or sending its batch raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((request, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            await self._hand_on(batch)

    async def _hand_on(self, batch: list[Pending]) -> None:
        try:
            await run_in_threadpool(self._submit, [request for request, _ in batch])
        except (DataError, IntegrityError) as exc:
            if len(batch) == 1:
                _settle(batch, exc)
                return
            # One row the database refuses rolled back the whole transaction (nothing was sent):
            # alone, each run is recorded or fails by itself.
            for one in batch:
                await self._hand_on([one])
        except Exception as exc:
            _settle(batch, exc)
        else:
            _settle(batch, None)


def _settle(batch: list[Pending], error: Exception | None) -> None:
    for _, future in batch:
        if future.done():  # its request was cancelled (client gone); the run is recorded anyway
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
