"""The token bucket as a pure function of time, and the rate syntax."""

from __future__ import annotations

import pytest
from bucket_cases import CASES, TEN_A_SECOND

from harvester.ratelimit.bucket import BucketState, Rate, parse_rate, take


@pytest.mark.parametrize("case", CASES, ids=[c.why for c in CASES])
def test_take(case):
    answer = take(case.state, case.now, case.rate, case.tokens)
    assert answer.granted is case.granted
    assert answer.wait == pytest.approx(case.wait)
    if case.granted:
        assert answer.state.level == pytest.approx(case.after.level)
        assert answer.state.at == case.after.at


def test_tokens_evenly_spaced_at_burst_one():
    state, granted_at, now = None, [], 0.0
    while len(granted_at) < 25:
        answer = take(state, now, TEN_A_SECOND)
        state = answer.state
        if answer.granted:
            granted_at.append(now)
        else:
            now += answer.wait
    assert granted_at[-1] == pytest.approx(2.4)
    assert max(sum(1 for t in granted_at if start <= t < start + 1 - 1e-9) for start in granted_at) == 10


def test_a_take_of_no_tokens_is_refused():
    with pytest.raises(ValueError, match="at least one token"):
        take(BucketState(1.0, 0.0), 0.0, TEN_A_SECOND, 0)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("5000/h", Rate(5000, 3600.0)),
        ("10/s", Rate(10, 1.0)),
        (" 10 / s ", Rate(10, 1.0)),
        ("3/m burst 3", Rate(3, 60.0, 3)),
        ("1/d", Rate(1, 86400.0)),
    ],
)
def test_parse_rate(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("5000/hr", "is not a rate: write N/s, N/m, N/h or N/d"),
        ("10/w", "is not a rate"),
        ("ten/s", "is not a rate"),
        ("", "is not a rate"),
        (5000, "is not a rate"),
        ("0/s", "at least 1"),
        ("10/s burst 0", "at least 1"),
    ],
)
def test_parse_rate_errors_say_how_to_write_one(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_rate(text)


def test_a_rate_reads_as_written():
    assert [str(parse_rate(t)) for t in ("5000/h", "3/m burst 3")] == ["5000/h", "3/m burst 3"]
