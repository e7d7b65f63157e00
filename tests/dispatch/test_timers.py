"""The worker's event-loop timer keeps only live entries (time limits of ended runs are dropped)."""

from __future__ import annotations

from time import monotonic
from types import SimpleNamespace

from kombu.asynchronous import Hub
from kombu.asynchronous.timer import Timer

from harvester.dispatch.timers import COMPACT_EVERY, CompactTimers, compact


def test_compact_drops_cancelled_entries_and_keeps_the_rest_in_order():
    timer = Timer()
    fired: list[int] = []
    trefs = [timer.call_at(100.0 + i, fired.append, (i,)) for i in range(10)]
    for tref in trefs[::2]:
        timer.cancel(tref)  # as the pool does when a run ends before its time limit

    assert compact(timer) == 5
    assert len(timer) == 5
    assert [item.eta for item in timer.queue] == [101.0, 103.0, 105.0, 107.0, 109.0]
    for item in timer.queue:
        timer.apply_entry(item.entry)
    assert fired == [1, 3, 5, 7, 9]


def test_compact_leaves_a_timer_without_cancelled_entries_alone():
    timer = Timer()
    timer.call_at(5.0, print)
    assert compact(timer) == 0
    assert len(timer) == 1


def test_the_worker_step_compacts_its_hubs_timer_periodically_until_it_stops():
    hub = Hub()
    worker = SimpleNamespace(hub=hub)
    step = CompactTimers(worker)
    step.start(worker)
    (repeating,) = hub.timer.queue
    assert COMPACT_EVERY - 5 < repeating.eta - monotonic() <= COMPACT_EVERY
    dead = hub.call_later(1800, print)
    hub.timer.cancel(dead)
    assert len(hub.timer) == 2

    repeating.entry()  # the loop's call once the minute is up
    assert [item.entry for item in hub.timer.queue if item.entry.fun is print] == []

    step.stop(worker)
    assert all(item.entry.canceled for item in hub.timer.queue)


def test_without_an_event_loop_the_step_does_nothing():
    worker = SimpleNamespace(hub=None)
    step = CompactTimers(worker)
    step.start(worker)
    step.stop(worker)
    assert step.tref is None
