"""Freshness of enabled entries from the last success in history (pure: history and time passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harvester.schedule.freshness import entry_key, freshness
from harvester.schedule.loader import parse_schedule_text

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TEXT = """
groups:
  g:
    tasks:
      - collector: github_stars
        schedule: daily
        params: {repo: a/b}
      - collector: github_stars
        schedule: every 15m
        params: {repo: c/d}
      - collector: github_stars
        schedule: hourly
        params: {repo: e/f}
      - collector: github_stars
        schedule: daily
        enabled: false
        params: {repo: g/h}
"""


def test_fresh_stale_never_run_and_disabled_left_out(registry):
    loaded = parse_schedule_text(TEXT, registry)
    daily, quarter, _, _ = loaded.entries
    history = {
        entry_key(daily, registry): NOW - timedelta(hours=25),  # daily -> 26h window: fresh
        entry_key(quarter, registry): NOW - timedelta(minutes=46),  # every 15m -> 45m window: stale
    }
    report = freshness(loaded.entries, history, registry, NOW)
    assert [(f.entry.params["repo"], f.status) for f in report] == [
        ("a/b", "fresh"),
        ("c/d", "stale"),
        ("e/f", "never run"),
    ]
    assert [f.stale for f in report] == [False, True, True]
    assert report[0].age(NOW) == timedelta(hours=25)
    assert report[2].age(NOW) is None


def test_history_is_matched_by_params_not_only_collector(registry):
    loaded = parse_schedule_text(TEXT, registry)
    other_params = ("github_stars", "not-the-key-of-any-entry")
    report = freshness(loaded.entries, {other_params: NOW}, registry, NOW)
    assert {f.status for f in report} == {"never run"}
