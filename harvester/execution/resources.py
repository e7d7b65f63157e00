"""What one attempt cost: CPU seconds (user + system) and peak resident memory of its process.

CPU is the difference of ``getrusage(RUSAGE_SELF)`` around the attempt: every thread of the
process counts, so a collector's own worker threads are included, and so is, under a threads
pool, any other run that shares the process meanwhile (prefork and solo run one at a time).

Peak memory is the process's resident high-water mark during the attempt. On Linux (4.0 and later)
the mark is reset at the start by writing ``5`` to ``/proc/self/clear_refs`` and read from
``VmHWM`` in ``/proc/self/status`` at the end: exact, and cheap (one small write, one read). Where
that is not possible (another OS, a locked-down ``/proc``), the figure is the largest of the
resident size at the start and at the end, and of ``ru_maxrss`` (the process's lifetime peak) if
that grew during the attempt: exact when the attempt set a new lifetime peak, otherwise a lower
bound. Either way it is the whole process's memory (interpreter, libraries, what earlier runs left
allocated), not only what the collector allocated.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass

import psutil

CLEAR_REFS = "/proc/self/clear_refs"
STATUS = "/proc/self/status"
#: ``ru_maxrss`` is in KiB on Linux and in bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024
#: Whether the high-water mark can be reset and read here; found out on first use.
_resettable: bool | None = None


@dataclass(frozen=True)
class Usage:
    """One attempt's cost: wall seconds, CPU seconds (user + system), peak resident bytes (None: unknown)."""

    wall_seconds: float
    cpu_seconds: float | None
    peak_memory: int | None


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT


def _rss() -> int | None:
    try:
        return int(psutil.Process().memory_info().rss)
    except psutil.Error:
        return None


def reset_peak() -> bool:
    """Reset this process's resident high-water mark (Linux >= 4.0); False where that is not possible.

    Opened on each use (a few microseconds): a descriptor of ``/proc/self`` kept across a fork
    would still name the parent."""
    try:
        fd = os.open(CLEAR_REFS, os.O_WRONLY)
        try:
            os.write(fd, b"5")
        finally:
            os.close(fd)
    except OSError:
        return False
    return True


def read_peak() -> int | None:
    """This process's resident high-water mark in bytes (``VmHWM``), or None where it is not readable."""
    try:
        fd = os.open(STATUS, os.O_RDONLY)
        try:
            status = os.read(fd, 8192)
        finally:
            os.close(fd)
    except OSError:
        return None
    start = status.find(b"VmHWM:")
    if start < 0:
        return None
    return int(status[start + 6 : status.index(b"kB", start)]) * 1024


def _reset() -> bool:
    global _resettable
    if _resettable is None:
        _resettable = reset_peak() and read_peak() is not None
        return _resettable
    return _resettable and reset_peak()


class Meter:
    """Measures one attempt from its creation to :meth:`stop`, in the process that runs it.

    Cheap: a few system calls at each end and nothing in between (no sampling thread).
    ``exact=False`` uses the fallback even where the high-water mark can be reset (for tests)."""

    def __init__(self, *, exact: bool = True) -> None:
        self._exact = exact and _reset()
        self._rss_before: int | None = None
        self._maxrss_before = 0
        if not self._exact:
            self._rss_before, self._maxrss_before = _rss(), _max_rss()
        self._wall, self._cpu = time.monotonic(), _cpu()

    def stop(self) -> Usage:
        wall, cpu = time.monotonic() - self._wall, max(0.0, _cpu() - self._cpu)
        return Usage(wall, cpu, read_peak() if self._exact else self._fallback_peak())

    def _fallback_peak(self) -> int | None:
        maxrss = _max_rss()
        seen = [value for value in (self._rss_before, _rss()) if value is not None]
        if maxrss > self._maxrss_before:
            seen.append(maxrss)  # a new lifetime peak was set during this attempt: it is the attempt's
        return max(seen) if seen else None
