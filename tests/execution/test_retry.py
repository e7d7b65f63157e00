"""Unit tests of harvester.execution.retry.RetryPolicy (pure: seeded RNGs, no sleeping)."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from harvester.errors import FailureCategory
from harvester.execution.retry import RetryPolicy

RETRYABLE = [FailureCategory.NETWORK, FailureCategory.RATE_LIMIT, FailureCategory.TIMEOUT, FailureCategory.DATABASE]
NOT_RETRYABLE = [c for c in FailureCategory if c not in RETRYABLE]


class Fixed(random.Random):
    """An RNG whose ``uniform`` always returns one end of the range (``fraction`` 0 = low, 1 = high)."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


def test_defaults_match_the_spec() -> None:
    policy = RetryPolicy()
    assert policy.retries == 3
    assert policy.base == 60.0
    assert policy.max_delay == 3600.0


def test_policy_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RetryPolicy().retries = 5  # type: ignore[misc]


# -- should_retry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("category", RETRYABLE)
def test_retryable_categories_retry_up_to_retries(category: FailureCategory) -> None:
    policy = RetryPolicy(retries=3)
    assert [policy.should_retry(category, attempt) for attempt in range(1, 6)] == [True, True, True, False, False]


@pytest.mark.parametrize("category", NOT_RETRYABLE)
def test_other_categories_never_retry(category: FailureCategory) -> None:
    policy = RetryPolicy(retries=10)
    assert not any(policy.should_retry(category, attempt) for attempt in range(1, 12))


def test_zero_retries_means_one_attempt() -> None:
    policy = RetryPolicy(retries=0)
    assert not policy.should_retry(FailureCategory.NETWORK, 1)


def test_should_retry_accepts_plain_strings_from_history() -> None:
    # categories come back from the database as their str value
    assert RetryPolicy().should_retry(FailureCategory("timeout"), 1)


def test_not_retryable_categories_are_exactly_these() -> None:
    assert {c.value for c in NOT_RETRYABLE} == {"config", "validation", "auth", "permission", "unknown"}


# -- delay ----------------------------------------------------------------------------------------


def test_delay_grows_exponentially_at_the_top_of_the_jitter() -> None:
    policy = RetryPolicy(base=10.0, max_delay=10_000.0)
    assert [policy.delay(attempt, rng=Fixed(1.0)) for attempt in range(1, 6)] == [10.0, 20.0, 40.0, 80.0, 160.0]


def test_delay_jitter_floor_is_half() -> None:
    policy = RetryPolicy(base=10.0, max_delay=10_000.0)
    assert [policy.delay(attempt, rng=Fixed(0.0)) for attempt in range(1, 5)] == [5.0, 10.0, 20.0, 40.0]


@pytest.mark.parametrize("attempt", range(1, 8))
def test_delay_stays_within_jitter_bounds(attempt: int) -> None:
    policy = RetryPolicy(base=60.0, max_delay=1_000_000.0)
    rng = random.Random(1234 + attempt)
    nominal = 60.0 * 2 ** (attempt - 1)
    samples = [policy.delay(attempt, rng=rng) for _ in range(200)]
    assert all(0.5 * nominal <= s <= nominal for s in samples)
    assert len(set(samples)) > 100  # there is jitter
    assert min(samples) < 0.6 * nominal  # and it spreads over the range
    assert max(samples) > 0.9 * nominal


def test_delay_is_deterministic_for_a_seeded_rng() -> None:
    policy = RetryPolicy()
    first = [policy.delay(a, rng=random.Random(42)) for a in range(1, 5)]
    second = [policy.delay(a, rng=random.Random(42)) for a in range(1, 5)]
    assert first == second
    rng = random.Random(42)
    expected = 60.0 * 2 ** (3 - 1) * rng.uniform(0.5, 1.0)
    assert policy.delay(3, rng=random.Random(42)) == pytest.approx(expected)


def test_delay_with_seeded_rng_grows_on_average() -> None:
    policy = RetryPolicy(base=1.0, max_delay=1e9)
    rng = random.Random(7)
    means = [sum(policy.delay(a, rng=rng) for _ in range(100)) / 100 for a in range(1, 6)]
    assert all(later > earlier * 1.5 for earlier, later in itertools.pairwise(means))


def test_delay_is_capped_at_max_delay() -> None:
    policy = RetryPolicy(base=60.0, max_delay=300.0)
    rng = random.Random(3)
    for attempt in range(4, 30):
        delay = policy.delay(attempt, rng=rng)
        assert 150.0 <= delay <= 300.0
    assert policy.delay(30, rng=Fixed(1.0)) == 300.0


def test_attempt_zero_or_negative_is_treated_as_first() -> None:
    policy = RetryPolicy(base=8.0)
    assert policy.delay(0, rng=Fixed(1.0)) == 8.0
    assert policy.delay(-3, rng=Fixed(1.0)) == 8.0


def test_delay_without_rng_uses_the_module_random() -> None:
    policy = RetryPolicy(base=4.0)
    for _ in range(50):
        assert 4.0 <= policy.delay(2) <= 8.0


# -- Retry-After ----------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [1, 2, 5])
def test_retry_after_is_honoured_as_given(attempt: int) -> None:
    policy = RetryPolicy(base=60.0)
    assert policy.delay(attempt, retry_after=7.0, rng=Fixed(0.3)) == 7.0
    assert policy.delay(attempt, retry_after=7.5, rng=random.Random(1)) == 7.5


def test_retry_after_zero_means_now_not_backoff() -> None:
    assert RetryPolicy(base=60.0).delay(3, retry_after=0.0, rng=Fixed(1.0)) == 0.0


def test_retry_after_is_capped_and_never_negative() -> None:
    policy = RetryPolicy(max_delay=120.0)
    assert policy.delay(1, retry_after=86_400.0) == 120.0
    assert policy.delay(1, retry_after=-5.0) == 0.0


def test_retry_after_does_not_consume_randomness() -> None:
    rng = random.Random(99)
    state = rng.getstate()
    RetryPolicy().delay(2, retry_after=3.0, rng=rng)
    assert rng.getstate() == state
