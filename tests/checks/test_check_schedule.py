"""`check:` in schedule.yaml, and the beat side that sends due probes (time passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from probe_collectors import ProbeDenied, ProbeNeedsUrl, ProbeOk

from harvester.execution.checks import CheckBeat, CheckTarget, probe_key
from harvester.registry import Registry
from harvester.schedule.entries import parse_check
from harvester.schedule.loader import parse_schedule_text

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

SCHEDULE = """\
groups:
  web:
    check: every 1h
    tasks:
      - collector: probe_needs_url
        schedule: daily
        params: {url: "https://a.example"}
        check: every 15m
      - collector: probe_needs_url
        schedule: hourly
        params: {url: "https://a.example"}
      - collector: probe_ok
        schedule: daily
  plain:
    tasks:
      - collector: probe_denied
        schedule: daily
"""


@pytest.fixture
def registry() -> Registry:
    return Registry([ProbeOk, ProbeDenied, ProbeNeedsUrl])


@pytest.mark.parametrize(
    ("text", "minutes"), [("every 15m", 15), ("15m", 15), ("Every 1h", 60), ("every 1d", 1440), ("1h30m", 90)]
)
def test_check_intervals(text, minutes):
    assert parse_check(text) == timedelta(minutes=minutes)


def test_an_entry_takes_its_own_check_interval_or_its_groups(registry):
    schedule = parse_schedule_text(SCHEDULE, registry)
    assert schedule.problems == ()
    assert [e.check for e in schedule.entries] == [timedelta(minutes=15), timedelta(hours=1), timedelta(hours=1), None]


@pytest.mark.parametrize("value", ["sometimes", "every", "0m", "every -5m"])
def test_a_bad_check_interval_is_a_problem_on_its_line(registry, value):
    text = SCHEDULE.replace("check: every 15m", f"check: {value}")
    (problem,) = parse_schedule_text(text, registry).problems
    assert problem.line == 8
    assert f"bad `check` '{value}'" in problem.message
    assert "every 15m" in problem.message


def test_beat_sends_each_probe_at_the_shortest_interval_of_its_entries(registry):
    schedule = parse_schedule_text(SCHEDULE, registry)
    sent: list[list[CheckTarget]] = []
    beat = CheckBeat(registry, dict, sent.append)
    first = beat.tick(schedule, NOW)
    assert [(t.collector, t.label) for t in first] == [
        ("probe_needs_url", "web (line 5)"),
        ("probe_ok", "web (line 12)"),
    ]
    assert beat.tick(schedule, NOW + timedelta(minutes=14)) == []
    assert [t.collector for t in beat.tick(schedule, NOW + timedelta(minutes=15))] == ["probe_needs_url"]
    assert [t.collector for t in beat.tick(schedule, NOW + timedelta(hours=1))] == ["probe_needs_url", "probe_ok"]
    assert len(sent) == 3


def test_after_a_restart_beat_goes_on_from_the_stored_results(registry):
    schedule = parse_schedule_text(SCHEDULE, registry)
    url_key = probe_key(registry, CheckTarget("probe_needs_url", {"url": "https://a.example"}))
    stored = {url_key: NOW - timedelta(minutes=10)}
    beat = CheckBeat(registry, lambda: stored, lambda targets: None)
    assert [t.collector for t in beat.tick(schedule, NOW)] == ["probe_ok"]  # never checked
    assert [t.collector for t in beat.tick(schedule, NOW + timedelta(minutes=5))] == ["probe_needs_url"]


def test_a_schedule_without_checks_reads_nothing(registry):
    schedule = parse_schedule_text(
        SCHEDULE.replace("check: every 1h\n", "").replace("check: every 15m\n", ""), registry
    )

    def stored() -> dict:
        raise AssertionError("no check: no read")

    assert CheckBeat(registry, stored, lambda targets: None).tick(schedule, NOW) == []


def test_a_broker_that_refuses_the_probes_is_tried_again_after_the_interval(registry, caplog):
    schedule = parse_schedule_text(SCHEDULE, registry)

    def refuse(targets):
        raise ConnectionRefusedError("broker down")

    beat = CheckBeat(registry, dict, refuse)
    assert len(beat.tick(schedule, NOW)) == 2
    assert "2 scheduled checks not sent: broker down" in caplog.text
    assert beat.tick(schedule, NOW + timedelta(seconds=1)) == []


def test_stored_results_that_cannot_be_read_are_read_again_next_tick(registry):
    schedule = parse_schedule_text(SCHEDULE, registry)
    reads = []

    def stored() -> dict:
        reads.append(1)
        if len(reads) == 1:
            raise ConnectionError("database down")
        return {}

    beat = CheckBeat(registry, stored, lambda targets: None)
    with pytest.raises(ConnectionError):
        beat.tick(schedule, NOW)  # beat logs it and ticks again a second later
    assert len(beat.tick(schedule, NOW + timedelta(seconds=1))) == 2
