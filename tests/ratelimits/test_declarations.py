"""Declaring limits: rates checked when a class is defined, one rate per shared name, ``limit()``."""

from __future__ import annotations

import pytest

from harvester.collector import Collector, LocalContext
from harvester.errors import ConfigError, RegistryError
from harvester.ratelimit.bucket import Rate
from harvester.ratelimit.limiter import Limiter, MemoryBucket
from harvester.registry import Registry


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _context() -> tuple[LocalContext, FakeTime]:
    time = FakeTime()
    return LocalContext(limiter=Limiter(MemoryBucket(time.clock), sleep=time.sleep, clock=time.clock)), time


class GitHubBase(Collector):
    """A group of collectors shares a limit by inheriting it."""

    abstract = True
    rate_limits = {"github": "5000/h"}


class Stars(GitHubBase):
    name = "stars"

    def collect(self):
        return [self.limit("github") for _ in range(3)]


class Issues(GitHubBase):
    name = "issues"
    rate_limits = {**GitHubBase.rate_limits, "search": "30/m"}
    per_run_limits = ("search",)

    def collect(self):
        return "done"


def test_a_bad_rate_fails_when_the_class_is_defined_naming_class_and_limit():
    with pytest.raises(ConfigError, match=r"Bad.rate_limits\['github'\]: '5000/hr' is not a rate: write N/s"):

        class Bad(Collector):
            name = "bad"
            rate_limits = {"github": "5000/hr"}


def test_rate_limits_must_be_a_dict():
    with pytest.raises(ConfigError, match=r"Bad\.rate_limits must be a dict of name -> rate"):

        class Bad(Collector):
            name = "bad"
            rate_limits = "5000/h"  # type: ignore[assignment]


def test_per_run_limits_must_be_declared():
    with pytest.raises(ConfigError, match=r"Bad.per_run_limits .* \(declared: github; got \('gitlab',\)\)"):

        class Bad(Collector):
            name = "bad"
            rate_limits = {"github": "5000/h"}
            per_run_limits = ("gitlab",)


def test_a_shared_name_with_another_rate_is_an_error_at_registration_naming_both():
    class Other(Collector):
        name = "other"
        rate_limits = {"github": "60/h"}

    with pytest.raises(RegistryError) as caught:
        Registry([Stars, Other])
    message = str(caught.value)
    assert "rate limit 'github' is declared as '60/h' by" in message
    assert "Other and as '5000/h' by" in message
    assert "Stars: one shared limit has one rate" in message


def test_the_same_rate_written_alike_is_one_limit():
    class Twin(Collector):
        name = "twin"
        rate_limits = {"github": " 5000 / h"}

    assert Registry([Stars, Issues, Twin]).names() == ["issues", "stars", "twin"]


def test_limit_takes_from_the_named_bucket_waiting_when_empty():
    context, time = _context()
    stars = Stars()
    stars.bind(context)
    assert stars.run() == [0.0, pytest.approx(0.72), pytest.approx(0.72)]
    assert context.waiting_seen == ["rate limit github", None, "rate limit github", None]
    assert time.now == pytest.approx(1.44)


def test_per_run_limits_take_one_token_before_collect():
    context, time = _context()
    for _ in range(2):
        issues = Issues()
        issues.bind(context)
        issues.run()
    assert context.limiter.bucket.stats()[0].name == "search"
    assert context.limiter.bucket.stats()[0].tokens == 2
    assert time.now == pytest.approx(2.0)  # 30/m: the second run waited two seconds


def test_an_undeclared_limit_is_a_config_error_naming_the_declared_ones():
    class Typo(GitHubBase):
        name = "typo"

        def collect(self):
            return self.limit("githb")

    with pytest.raises(ConfigError, match=r"Typo has no rate limit 'githb' \(declared: github\)"):
        Typo().run()


def test_declared_rates_are_parsed_once():
    assert Issues._rates == {"github": Rate(5000, 3600.0), "search": Rate(30, 60.0)}
