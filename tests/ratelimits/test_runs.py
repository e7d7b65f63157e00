"""A run that waits for tokens: its ``waiting_for`` while it waits, and a bucket that fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harvester import Harvester, Settings
from harvester.collector import Collector
from harvester.errors import TransientError
from harvester.ratelimit.limiter import Limiter
from harvester.registry import Registry


class Paged(Collector):
    name = "paged"
    rate_limits = {"api": "1/s"}
    retries = 0

    def collect(self):
        return [self.limit("api") for _ in range(2)]


class Scripted:
    def __init__(self, *waits: float | Exception) -> None:
        self.waits = list(waits)

    def take(self, name, rate, tokens):
        answer = self.waits.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def record_wait(self, name, seconds):
        pass

    def stats(self):
        return []


@pytest.fixture
def hv(tmp_path: Path) -> Iterator[Harvester]:
    made = Harvester(Settings(data_dir=tmp_path / "data"), registry=Registry([Paged]))
    made.store.upgrade()
    yield made
    made.close()


def _latest(hv: Harvester) -> dict:
    return hv.store.list_runs(collector="paged", limit=1)[0]


def test_a_run_says_what_it_waits_for_while_it_waits(hv):
    seen = []
    hv.__dict__["limiter"] = Limiter(Scripted(0.0, 0.5, 0.0), sleep=lambda _s: seen.append(_latest(hv)))
    result = hv.run_inline(hv.request("paged"))
    assert result.status == "succeeded"
    assert [(row["status"], row["waiting_for"]) for row in seen] == [("running", "rate limit api")]
    assert _latest(hv)["waiting_for"] is None


def test_a_bucket_that_fails_fails_the_run_as_network_and_it_stops_waiting(hv):
    hv.__dict__["limiter"] = Limiter(
        Scripted(0.5, TransientError("rate limit api: Redis did not answer")), sleep=lambda _s: None
    )
    result = hv.run_inline(hv.request("paged"))
    row = _latest(hv)
    assert (result.status, row["error_category"], row["waiting_for"]) == ("failed", "network", None)
    assert "rate limit api: Redis did not answer" in row["error_message"]


def test_the_embedded_default_takes_from_the_history_database(hv):
    assert hv.run_inline(hv.request("paged")).status == "succeeded"
    stats = hv.limiter.bucket.stats()
    assert [(s.name, s.tokens) for s in stats] == [("api", 2)]
    assert stats[0].waits == 1  # the second call waited for the next second
