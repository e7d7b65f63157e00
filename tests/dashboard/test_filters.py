"""How the dashboard writes ages, durations, rates and JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harvester.dashboard.filters import ago, duration, percent, pretty, timestamp, until

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"), [(2, "just now"), (45, "45s ago"), (130, "2m ago"), (7200, "2h ago"), (3 * 86400, "3d ago")]
)
def test_ago(seconds, text):
    assert ago(NOW - timedelta(seconds=seconds), NOW) == text


def test_ago_and_until_of_nothing():
    assert ago(None, NOW) == "never"
    assert until(None, NOW) == "-"
    assert timestamp(None) == "-"


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "now"), (30, "in 30s"), (600, "in 10m"), (90000, "in 1d")])
def test_until(seconds, text):
    assert until(NOW + timedelta(seconds=seconds), NOW) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.4213, "0.42 s"), (12.34, "12.3 s"), (125, "2m 05s"), (3725, "1h 02m")],
)
def test_duration(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(("rate", "text"), [(None, "-"), (1.0, "100%"), (0.996, "99%"), (0.0, "0%"), (0.6, "60%")])
def test_percent_never_rounds_up_to_perfect(rate, text):
    assert percent(rate) == text


def test_pretty_json_is_sorted_indented_and_keeps_unicode():
    assert pretty({"b": 1, "a": "ü", "when": NOW}) == (
        '{\n  "a": "ü",\n  "b": 1,\n  "when": "2026-11-23 12:00:00+00:00"\n}'
    )
    assert timestamp(NOW) == "2026-11-23 12:00:00 UTC"
