"""Probes: which checks run, how one ends (passed, failed, timed out), secrets masked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from probe_collectors import ProbeDenied, ProbeHangs, ProbeNeedsUrl, ProbeOk

from harvester import Collector
from harvester.execution.checks import (
    DEFAULTS,
    CheckTarget,
    plan_checks,
    probe_key,
    run_checks,
    takes_no_params,
)
from harvester.registry import Registry
from harvester.request import MessageError
from harvester.schedule.loader import parse_schedule_text

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def registry() -> Registry:
    return Registry([ProbeOk, ProbeDenied, ProbeHangs, ProbeNeedsUrl])


def clock() -> datetime:
    return NOW


def test_the_default_check_is_validate_config():
    assert ProbeNeedsUrl(url="https://example.org").check() is None
    with pytest.raises(Exception, match="must start with https://"):
        ProbeNeedsUrl(url="http://example.org").check()
    assert Collector.check.__doc__
    assert "without collecting" in Collector.check.__doc__


def test_without_a_schedule_every_collector_that_needs_no_params_is_probed_with_its_defaults(registry):
    plan = plan_checks(registry, [])
    assert [(t.collector, t.label) for t in plan.targets] == [
        ("probe_denied", DEFAULTS),
        ("probe_hangs", DEFAULTS),
        ("probe_ok", DEFAULTS),
    ]
    assert plan.needs_params == ()  # not named: left out quietly
    assert takes_no_params(ProbeOk)
    assert not takes_no_params(ProbeNeedsUrl)


def test_each_schedule_entry_is_probed_with_its_params_once(registry):
    schedule = parse_schedule_text(
        """\
groups:
  web:
    tasks:
      - collector: probe_needs_url
        schedule: hourly
        params: {url: "https://a.example"}
      - collector: probe_needs_url
        schedule: daily
        params: {url: "https://a.example"}
      - collector: probe_needs_url
        schedule: daily
        enabled: false
        params: {url: "https://b.example"}
      - collector: probe_ok
        schedule: daily
""",
        registry,
    )
    plan = plan_checks(registry, schedule.entries)
    shown = [(t.collector, t.label, t.params) for t in plan.targets]
    assert shown == [
        ("probe_denied", DEFAULTS, {}),
        ("probe_hangs", DEFAULTS, {}),
        ("probe_needs_url", "web (line 4)", {"url": "https://a.example"}),
        ("probe_ok", "web (line 14)", {}),  # its entry has the defaults: probed once, under the entry
    ]


def test_naming_collectors_limits_the_plan_and_names_those_that_need_params(registry):
    plan = plan_checks(registry, [], ["probe_ok", "probe_needs_url"])
    assert [t.collector for t in plan.targets] == ["probe_ok"]
    assert plan.needs_params == ("probe_needs_url",)


def test_a_passing_and_a_failing_probe(registry):
    ok, denied = run_checks(registry, [CheckTarget("probe_ok", {}), CheckTarget("probe_denied", {})], 5, clock=clock)
    assert (ok.ok, ok.category, ok.detail, ok.checked_at) == (True, None, "reachable", NOW)
    assert ok.duration >= 0
    assert ok.params_key == probe_key(registry, CheckTarget("probe_ok", {}))[1]
    assert (denied.ok, denied.category) == (False, "permission")
    assert denied.detail == "PermissionError: 403 Forbidden: token none was refused"


def test_a_secret_reference_is_resolved_and_its_value_masked_in_the_detail(registry, monkeypatch):
    monkeypatch.setenv("PROBE_TOKEN", "s3cret-value")
    (result,) = run_checks(registry, [CheckTarget("probe_denied", {"token": "${PROBE_TOKEN}"})], 5, clock=clock)
    assert not result.ok
    assert "s3cret-value" not in result.detail
    assert result.detail == "PermissionError: 403 Forbidden: token ********** was refused"
    assert result.params == {"token": "${PROBE_TOKEN}"}  # the reference, never the value


def test_a_secret_given_as_a_value_is_masked_in_params_and_detail(registry):
    (result,) = run_checks(registry, [CheckTarget("probe_denied", {"token": "literal-secret"})], 5, clock=clock)
    assert "literal-secret" not in result.detail + str(result.params)


def test_an_unresolvable_reference_fails_as_config_naming_the_variable(registry):
    (result,) = run_checks(registry, [CheckTarget("probe_denied", {"token": "${PROBE_MISSING}"})], 5, clock=clock)
    assert (result.ok, result.category) == (False, "config")
    assert "PROBE_MISSING is not set" in result.detail


def test_bad_params_fail_as_config_with_a_key_of_their_own(registry):
    good = CheckTarget("probe_needs_url", {"url": "https://a.example"})
    bad = CheckTarget("probe_needs_url", {"url": 3})
    missing = CheckTarget("probe_needs_url", {})
    results = run_checks(registry, [good, bad, missing], 5, clock=clock)
    assert [r.ok for r in results] == [True, False, False]
    assert results[1].category == "config"
    assert "url" in results[1].detail
    assert len({r.params_key for r in results}) == 3


def test_a_probe_that_overruns_its_time_limit_is_a_timeout_and_the_others_still_report(registry, hang):
    hangs, ok = run_checks(registry, [CheckTarget("probe_hangs", {}), CheckTarget("probe_ok", {})], 0.2)
    assert (hangs.ok, hangs.category, hangs.detail) == (False, "timeout", "check() did not end within 0.2s")
    assert ok.ok


def test_probes_beyond_the_parallel_limit_wait_for_the_first_ones(registry):
    targets = [CheckTarget("probe_ok", {}, label=f"copy {n}") for n in range(5)]
    results = run_checks(registry, targets, 5, parallel=2)
    assert [r.label for r in results] == [f"copy {n}" for n in range(5)]
    assert all(r.ok for r in results)


def test_a_check_that_exits_fails_instead_of_ending_anything(registry):
    class Exits(ProbeOk):
        name = "probe_exits"

        def check(self) -> str:
            raise SystemExit(3)

    (result,) = run_checks(Registry([Exits]), [CheckTarget("probe_exits", {})], 5)
    assert not result.ok
    assert "SystemExit" in result.detail


def test_a_long_detail_is_cut(registry):
    class Chatty(ProbeOk):
        name = "probe_chatty"

        def check(self) -> str:
            return "x" * 5000

    (result,) = run_checks(Registry([Chatty]), [CheckTarget("probe_chatty", {})], 5)
    assert result.ok
    assert len(result.detail) == 500


def test_a_check_message_round_trips_and_a_bad_one_names_the_problem():
    target = CheckTarget("probe_ok", {"a": 1}, "web (line 3)", queue="q")
    assert CheckTarget.from_message(target.to_message()) == CheckTarget("probe_ok", {"a": 1}, "web (line 3)")
    for body in (
        None,
        {"collector": "x"},
        {"collector": 1, "params": {}, "label": ""},
        {"collector": "x", "params": [], "label": ""},
    ):
        with pytest.raises(MessageError):
            CheckTarget.from_message(body)


def test_a_due_time_table():
    from harvester.execution.checks import due_checks

    every = {("a", "k"): timedelta(minutes=15), ("b", "k"): timedelta(minutes=15), ("c", "k"): timedelta(hours=1)}
    last = {("a", "k"): NOW - timedelta(minutes=15), ("c", "k"): NOW - timedelta(minutes=59)}
    assert due_checks(every, last, NOW) == [("a", "k"), ("b", "k")]
