"""The token bucket: a rate such as ``"5000/h"``, and taking tokens from a bucket as a pure function of time.

A bucket holds at most ``burst`` tokens and gains ``tokens / per`` of them each second. A take of
``n`` tokens is granted once the bucket holds ``min(n, burst)``; it then holds ``n`` fewer (a take
larger than the burst leaves it in debt, which later takes wait out). Otherwise the answer says how
long until enough will be there. Time is an argument, in seconds on any one clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Seconds per unit of a rate.
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

#: Tokens a bucket may lack and still grant: float sums must not turn "just full" into a tiny wait.
EPSILON = 1e-9

_RATE = re.compile(r"^\s*(\d+)\s*/\s*([smhd])\s*(?:burst\s+(\d+)\s*)?$")


@dataclass(frozen=True)
class Rate:
    """``tokens`` per ``per`` seconds, at most ``burst`` at once (default 1: tokens evenly spaced)."""

    tokens: int
    per: float
    burst: int = 1

    @property
    def per_second(self) -> float:
        return self.tokens / self.per

    def __str__(self) -> str:
        unit = next(name for name, seconds in UNITS.items() if seconds == self.per)
        return f"{self.tokens}/{unit}" + (f" burst {self.burst}" if self.burst != 1 else "")


def parse_rate(text: str) -> Rate:
    """``"N/s"``, ``"N/m"``, ``"N/h"`` or ``"N/d"``, optionally followed by ``burst B``."""
    match = _RATE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a rate: write N/s, N/m, N/h or N/d, optionally 'burst B' (e.g. '5000/h')")
    tokens, unit, burst = int(match[1]), match[2], int(match[3] or 1)
    if tokens < 1 or burst < 1:
        raise ValueError(f"{text!r}: the number of tokens and the burst must be at least 1")
    return Rate(tokens, UNITS[unit], burst)


@dataclass(frozen=True)
class BucketState:
    """Tokens in the bucket (negative: in debt) as of ``at`` seconds."""

    level: float
    at: float


@dataclass(frozen=True)
class Take:
    """The answer to one take: granted (and the bucket after it), or how many seconds to wait."""

    granted: bool
    wait: float
    state: BucketState


def take(state: BucketState | None, now: float, rate: Rate, tokens: int = 1) -> Take:
    """Take ``tokens`` at ``now`` from a bucket last seen as ``state`` (None: never used, so full).

    Refused, the state is the refilled one, and ``wait`` is the time until the bucket holds enough.
    A clock that went back (another host's, or a stepped one) refills nothing and loses nothing.
    """
    if tokens < 1:
        raise ValueError(f"take at least one token, not {tokens}")
    if state is None:
        level = float(rate.burst)
    else:
        level = min(float(rate.burst), state.level + max(0.0, now - state.at) * rate.per_second)
    at = max(now, state.at) if state is not None else now
    needed = min(tokens, rate.burst)
    if level >= needed - EPSILON:
        return Take(True, 0.0, BucketState(level - tokens, at))
    return Take(False, (needed - level) / rate.per_second, BucketState(level, at))
