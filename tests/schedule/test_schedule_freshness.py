"""Freshness of enabled entries from the last success in history (pure: history and time passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harvester.schedule.freshness import entry_key, freshness, history_keys
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
    other_params = "g:github_stars:not-the-key-of-any-entry:0123456789ab"
    report = freshness(loaded.entries, {other_params: NOW}, registry, NOW)
    assert {f.status for f in report} == {"never run"}


SAME_IN_TWO_GROUPS = """
groups:
  a:
    tasks:
      - collector: github_stars
        schedule: daily
        params: {repo: a/b}
      - collector: github_stars
        schedule: weekly
        on: friday
        params: {repo: a/b}
  b:
    tasks:
      - collector: github_stars
        schedule: daily
        params: {repo: a/b}
"""


def test_an_entry_is_fresh_from_its_own_runs_only_not_another_groups_or_schedules(registry):
    loaded = parse_schedule_text(SAME_IN_TWO_GROUPS, registry)
    daily_a = loaded.entries[0]
    keys = [entry_key(e, registry) for e in loaded.entries]
    assert len(set(keys)) == 3
    assert keys[0].startswith("a:github_stars:")
    report = freshness(loaded.entries, {entry_key(daily_a, registry): NOW}, registry, NOW)
    assert [(f.entry.group, f.entry.schedule_text, f.status) for f in report] == [
        ("a", "daily at 00:00", "fresh"),
        ("a", "weekly on friday at 00:00", "never run"),
        ("b", "daily at 00:00", "never run"),
    ]


def test_history_keys_map_each_enabled_entry_to_its_collector_and_params_key(registry):
    loaded = parse_schedule_text(TEXT, registry)
    keys = history_keys(loaded.entries, registry)
    assert len(keys) == 3  # the disabled entry is not asked about
    for entry in loaded.entries[:3]:
        collector, params_key = keys[entry_key(entry, registry)]
        assert collector == "github_stars"
        assert params_key == registry.get("github_stars")(**entry.params).params_key()
