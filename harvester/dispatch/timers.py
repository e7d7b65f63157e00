"""Keep the worker's event-loop timer from growing with every run.

Celery's prefork pool arms one timer per task for its time limits and cancels it when the task
ends; kombu's timer only marks a cancelled entry and leaves it in its heap until its time comes.
At the default 1,800 s limit a worker that runs 100 runs a second holds 180,000 dead entries
(about 0.5 KB each) before the first one falls out. :class:`CompactTimers`, a worker bootstep,
rebuilds the heap without the cancelled entries every ten seconds through the timer's public API
(``queue``, ``clear``, ``enter_at``), in the event loop's own thread.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps

#: Seconds between compactions: ten seconds of cancelled entries is what the heap may hold.
COMPACT_EVERY = 10.0


def compact(timer: Any) -> int:
    """Drop the cancelled entries of a kombu ``Timer``; how many were dropped."""
    entries = timer.queue  # a sorted snapshot of (eta, priority, entry)
    live = [item for item in entries if not item.entry.canceled]
    dropped = len(entries) - len(live)
    if dropped:
        timer.clear()
        for item in live:
            timer.enter_at(item.entry, item.eta, item.priority)
    return dropped


class CompactTimers(bootsteps.StartStopStep):  # type: ignore[misc]
    """Worker bootstep: compact the event loop's timer every :data:`COMPACT_EVERY` seconds.

    Without an event loop (the embedded broker polls) the pool keeps no such timers: nothing to do.
    """

    requires = {"celery.worker.components:Hub"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        hub = getattr(worker, "hub", None)
        if hub is not None:
            self.tref = hub.call_repeatedly(COMPACT_EVERY, compact, hub.timer)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
