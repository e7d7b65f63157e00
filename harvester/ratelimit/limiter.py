"""Limiter: blocks a run until its named bucket grants tokens. The bucket itself is a backend
(Redis, the history database, or :class:`MemoryBucket` in this process) behind :class:`Bucket`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from harvester.errors import ConfigError
from harvester.ratelimit.bucket import BucketState, Rate, parse_rate, take

log = logging.getLogger(__name__)

#: Told what a run waits for (``"rate limit github"``) when its wait starts, and None when it ends.
WaitReport = Callable[[str | None], None]


@dataclass(frozen=True)
class LimitStats:
    """What ``/metrics`` shows of one limit: tokens granted, and the takes that had to wait."""

    name: str
    rate: str
    tokens: int
    waits: int
    wait_seconds: float


class Bucket(Protocol):
    """One shared store of named buckets."""

    def take(self, name: str, rate: Rate, tokens: int) -> float:
        """Take ``tokens`` now: 0 when granted, else the seconds until trying again makes sense."""

    def record_wait(self, name: str, seconds: float) -> None:
        """Count one take that waited ``seconds`` in all (for ``/metrics``)."""

    def stats(self) -> list[LimitStats]:
        """Every limit this store has seen, by name."""


def declared_limits(owner: str, declared: Mapping[str, str]) -> dict[str, Rate]:
    """Parse a collector's ``rate_limits``; a bad one is a ConfigError naming ``owner`` and the limit."""
    if not isinstance(declared, Mapping):
        raise ConfigError(f"{owner}.rate_limits must be a dict of name -> rate (e.g. {{'github': '5000/h'}})")
    rates: dict[str, Rate] = {}
    for name, text in declared.items():
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ConfigError(f"{owner}.rate_limits: {name!r} is not a limit name (a non-empty string)")
        try:
            rates[name] = parse_rate(text)
        except ValueError as exc:
            raise ConfigError(f"{owner}.rate_limits['{name}']: {exc}") from None
    return rates


class Limiter:
    """Takes tokens from a :class:`Bucket`, sleeping between tries until they are granted."""

    def __init__(
        self,
        bucket: Bucket,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bucket = bucket
        self._sleep = sleep
        self._clock = clock

    def acquire(self, name: str, rate: Rate, tokens: int = 1, report: WaitReport | None = None) -> float:
        """Block until ``tokens`` of ``name`` are granted; the seconds waited. ``report`` hears when a
        wait starts and ends (the run's ``waiting_for``); a failing report does not stop the wait."""
        if tokens < 1:
            raise ConfigError(f"limit('{name}', tokens={tokens}): take at least one token")
        started: float | None = None
        try:
            while (wait := self.bucket.take(name, rate, tokens)) > 0:
                if started is None:
                    started = self._clock()
                    _tell(report, f"rate limit {name}")
                self._sleep(wait)
        finally:
            if started is not None:
                _tell(report, None)
        if started is None:
            return 0.0
        waited = self._clock() - started
        try:
            self.bucket.record_wait(name, waited)
        except Exception as exc:  # a statistic: never worth failing the run that got its tokens
            log.warning("rate limit %s: the wait was not counted (%s: %s)", name, type(exc).__name__, exc)
        return waited


def _tell(report: WaitReport | None, waiting_for: str | None) -> None:
    if report is None:
        return
    try:
        report(waiting_for)
    except Exception as exc:  # the status line is for people; the tokens are what the run needs
        log.warning("could not record a run as waiting for %s (%s: %s)", waiting_for, type(exc).__name__, exc)


class MemoryBucket:
    """Buckets in this process only: for a collector run outside harvester, and for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, BucketState] = {}
        self._stats: dict[str, LimitStats] = {}

    def take(self, name: str, rate: Rate, tokens: int) -> float:
        with self._lock:
            answer = take(self._states.get(name), self._clock(), rate, tokens)
            self._states[name] = answer.state
            seen = self._stats.get(name, LimitStats(name, str(rate), 0, 0, 0.0))
            granted = tokens if answer.granted else 0
            self._stats[name] = LimitStats(name, str(rate), seen.tokens + granted, seen.waits, seen.wait_seconds)
            return answer.wait

    def record_wait(self, name: str, seconds: float) -> None:
        with self._lock:
            seen = self._stats[name]
            self._stats[name] = LimitStats(name, seen.rate, seen.tokens, seen.waits + 1, seen.wait_seconds + seconds)

    def stats(self) -> list[LimitStats]:
        with self._lock:
            return [self._stats[name] for name in sorted(self._stats)]
