"""The cost of one attempt as harvester.execution.resources measures it, in this process."""

from __future__ import annotations

import resource

import pytest

from harvester.execution import resources
from harvester.execution.resources import Meter

MB = 2**20


def burn(seconds: float) -> None:
    start = resource.getrusage(resource.RUSAGE_SELF)
    while True:
        now = resource.getrusage(resource.RUSAGE_SELF)
        if (now.ru_utime + now.ru_stime) - (start.ru_utime + start.ru_stime) >= seconds:
            return


def hold(megabytes: int) -> bytearray:
    buffer = bytearray(megabytes * MB)
    for offset in range(0, len(buffer), 4096):
        buffer[offset] = 1
    return buffer


def test_cpu_seconds_are_the_processes_user_and_system_time_during_the_attempt():
    meter = Meter()
    burn(0.2)
    usage = meter.stop()
    assert 0.2 <= usage.cpu_seconds < 0.2 + 0.2
    assert usage.wall_seconds >= usage.cpu_seconds * 0.5


@pytest.mark.skipif(not resources.reset_peak(), reason="needs Linux >= 4.0 (/proc/self/clear_refs)")
def test_peak_memory_is_the_attempts_own_high_water_mark_not_the_processes_lifetime_one():
    big = Meter()
    buffer = hold(64)
    del buffer
    high = big.stop().peak_memory
    small = Meter().stop().peak_memory  # the mark was reset: the 64 MB freed before do not count
    assert high - small >= 60 * MB, (high, small)


def test_without_clear_refs_the_peak_is_a_new_lifetime_peak_or_the_resident_size(monkeypatch):
    monkeypatch.setattr(resources, "CLEAR_REFS", "/nonexistent/clear_refs")
    monkeypatch.setattr(resources, "_resettable", None)
    assert not resources.reset_peak()
    meter = Meter()
    buffer = hold(32)
    usage = meter.stop()
    assert usage.peak_memory is not None
    assert usage.peak_memory >= len(buffer)  # what it holds at the end is resident at least
    assert Meter(exact=False).stop().peak_memory is not None
