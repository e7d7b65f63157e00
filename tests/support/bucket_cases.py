"""The bucket's table of cases, shared by the pure function's tests and the Redis script's."""

from __future__ import annotations

from typing import NamedTuple

from harvester.ratelimit.bucket import BucketState, Rate

TEN_A_SECOND = Rate(10, 1.0)
BURST_FIVE = Rate(10, 1.0, burst=5)
HOURLY = Rate(5000, 3600.0)


class Case(NamedTuple):
    why: str
    state: BucketState | None
    now: float
    rate: Rate
    tokens: int
    granted: bool
    wait: float
    after: BucketState  # the bucket after a granted take (a refused one changes nothing that matters)


CASES = [
    Case("a bucket never used is full", None, 100.0, TEN_A_SECOND, 1, True, 0.0, BucketState(0.0, 100.0)),
    Case("empty: one token is a tenth away", BucketState(0.0, 100.0), 100.0, TEN_A_SECOND, 1, False, 0.1, None),
    Case("half refilled", BucketState(0.0, 100.0), 100.05, TEN_A_SECOND, 1, False, 0.05, None),
    Case("refilled", BucketState(0.0, 100.0), 100.1, TEN_A_SECOND, 1, True, 0.0, BucketState(0.0, 100.1)),
    Case(
        "never more than the burst", BucketState(0.0, 100.0), 500.0, TEN_A_SECOND, 1, True, 0.0, BucketState(0.0, 500.0)
    ),
    Case("a burst of five", BucketState(5.0, 100.0), 100.0, BURST_FIVE, 5, True, 0.0, BucketState(0.0, 100.0)),
    Case("two of five left, three wanted", BucketState(2.0, 100.0), 100.0, BURST_FIVE, 3, False, 0.1, None),
    Case(
        "more than the burst waits for a full bucket", BucketState(4.0, 100.0), 100.0, BURST_FIVE, 8, False, 0.1, None
    ),
    Case(
        "more than the burst leaves a debt",
        BucketState(5.0, 100.0),
        100.0,
        BURST_FIVE,
        8,
        True,
        0.0,
        BucketState(-3.0, 100.0),
    ),
    Case("a debt is waited out", BucketState(-3.0, 100.0), 100.0, BURST_FIVE, 1, False, 0.4, None),
    Case("5000/h: one token every 0.72 s", BucketState(0.0, 100.0), 100.0, HOURLY, 1, False, 0.72, None),
    Case("a clock that went back refills nothing", BucketState(0.5, 100.0), 99.0, TEN_A_SECOND, 1, False, 0.05, None),
    Case(
        "nor does it move the bucket back",
        BucketState(1.0, 100.0),
        99.0,
        TEN_A_SECOND,
        1,
        True,
        0.0,
        BucketState(0.0, 100.0),
    ),
]
