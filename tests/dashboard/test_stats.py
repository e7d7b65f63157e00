"""harvester.history.stats on SQLite and PostgreSQL: 24-hour success rate and median duration,
latest runs per collector, counts of runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dashboard_demo import Seeder, make_harvester
from sqlalchemy import text

from harvester.history.engine import utcnow
from harvester.history.stats import CollectorStats, collector_stats, count_runs, recent_runs


@pytest.fixture(params=["sqlite", "postgresql"])
def seeder(request, tmp_path):
    hv = make_harvester(tmp_path)
    if request.param == "postgresql":
        hv.settings.database_url = request.getfixturevalue("postgres_url")
        del hv.store  # rebuilt from the new URL
        with hv.store.engine.begin() as conn:
            conn.execute(text("TRUNCATE runs, run_attempts, run_logs, collector_state, records, occurrences"))
    yield Seeder(hv, utcnow())
    hv.close()


def test_success_rate_and_median_over_the_window(seeder):
    hours = timedelta(hours=1)
    for n, (status, duration) in enumerate(
        [("succeeded", 1.0), ("succeeded", 3.0), ("failed", 2.0), ("succeeded", 10.0)]
    ):
        seeder.run("github_stars", (n + 1) * hours, status, duration=duration)
    seeder.run("github_stars", 30 * hours, "failed", duration=99.0)  # outside the 24 h
    seeder.run("github_stars", 5 * hours, "skipped", duration=None)  # says nothing about the collector
    seeder.run("github_stars", 6 * hours, "queued")
    for duration in (0.5, 0.1, 0.3):
        seeder.run("exchange_rates", hours, duration=duration)
    seeder.run("sitemap_crawl", hours, "running")
    seeder.save()
    stats = collector_stats(seeder.hv.store, seeder.now - timedelta(hours=24))
    assert stats["github_stars"] == CollectorStats(finished=4, succeeded=3, p50_duration=2.5)  # mean of 2 and 3
    assert stats["github_stars"].success_rate == 0.75
    assert stats["exchange_rates"].p50_duration == pytest.approx(0.3)  # odd count: the middle one
    assert stats["exchange_rates"].success_rate == 1.0
    assert "sitemap_crawl" not in stats
    assert CollectorStats(0, 0, None).success_rate is None


def test_recent_runs_are_the_latest_n_per_collector_oldest_first(seeder):
    minutes = timedelta(minutes=1)
    ids = [seeder.run("github_stars", n * minutes, "failed" if n == 1 else "succeeded") for n in range(1, 8)]
    seeder.run("invoices", minutes)
    seeder.save()
    recent = recent_runs(seeder.hv.store, ["github_stars", "invoices", "sitemap_crawl"], 5)
    assert [r["id"] for r in recent["github_stars"]] == list(reversed(ids[:5]))
    assert recent["github_stars"][-1]["status"] == "failed"
    assert len(recent["invoices"]) == 1
    assert "sitemap_crawl" not in recent  # never ran
    assert recent_runs(seeder.hv.store, [], 5) == {}


def test_count_runs_matches_the_filters(seeder):
    minutes = timedelta(minutes=1)
    for n in range(1, 11):
        seeder.run("github_stars", n * minutes, "failed" if n % 3 == 0 else "succeeded")
    seeder.run("invoices", minutes)
    seeder.save()
    store = seeder.hv.store
    assert count_runs(store) == 11
    assert count_runs(store, collector="github_stars") == 10
    assert count_runs(store, collector="github_stars", status="failed") == 3
    assert count_runs(store, status="running") == 0
