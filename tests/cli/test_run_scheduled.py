"""`harvester run-scheduled`: one group's batch, in file order, as the scheduler would run it."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from harvester.cli import cli

SCHEDULE = """
groups:
  nightly:
    default_time: "00:05"
    tasks:
      - collector: ok
        schedule: daily
        params: {value: 1}
      - collector: fatal_fail
        schedule: daily
      - collector: ok
        schedule: daily
        params: {value: 2}
      - collector: ok
        schedule: hourly
        params: {value: 3}
      - collector: ok
        schedule: daily
        enabled: false
        params: {value: 4}
      - collector: ok
        schedule: daily
        when: predicates:never
        params: {value: 5}
  other:
    tasks:
      - collector: config_fail
        schedule: daily
  customers:
    tasks:
      - collector: per_customer
        schedule: daily
"""


@pytest.fixture
def invoke(monkeypatch, tmp_path):
    (tmp_path / "schedule.yaml").write_text(textwrap.dedent(SCHEDULE))
    monkeypatch.setenv("HARVESTER_COLLECTORS", "sample_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


def history(invoke) -> list[dict]:
    return json.loads(invoke("runs", "--json").output)[::-1]  # oldest first


def test_batch_runs_enabled_entries_in_file_order_and_reports(invoke):
    result = invoke("run-scheduled", "--group", "nightly", "--schedule", "daily")
    assert result.exit_code == 1  # the last failure's code
    assert result.output.strip().endswith("2 succeeded, 1 failed")
    assert "ok (line 21): skipped: when predicate predicates:never returned false" in result.output
    runs = history(invoke)
    assert [(r["collector"], r["params"].get("value")) for r in runs] == [("ok", 1), ("fatal_fail", None), ("ok", 2)]
    assert {r["trigger"] for r in runs} == {"schedule"}
    assert runs[0]["finished_at"] <= runs[1]["started_at"]  # one after another
    assert runs[1]["finished_at"] <= runs[2]["started_at"]


def test_stop_on_failure_skips_the_rest_with_the_reason(invoke):
    result = invoke("run-scheduled", "--group", "nightly", "--schedule", "daily", "--stop-on-failure")
    assert result.exit_code == 1
    assert "1 succeeded, 1 failed" in result.output
    assert "ok (line 11): skipped: fatal_fail (line 9) failed and --stop-on-failure is set" in result.output
    assert [r["collector"] for r in history(invoke)] == ["ok", "fatal_fail"]


def test_without_schedule_filter_the_whole_group_runs(invoke):
    result = invoke("run-scheduled", "--group", "nightly")
    assert "3 succeeded, 1 failed" in result.output


def test_config_failure_exits_2_and_unknown_group_is_named(invoke):
    assert invoke("run-scheduled", "--group", "other").exit_code == 2
    unknown = invoke("run-scheduled", "--group", "nightlly")
    assert unknown.exit_code == 2
    assert "no group 'nightlly' in the schedule (did you mean 'nightly'?)" in unknown.output


def test_list_shows_schedule_next_run_and_freshness(invoke):
    before = {i["name"]: i for i in json.loads(invoke("list", "--json").output)}
    assert [e["status"] for e in before["ok"]["schedule"]] == ["never run"] * 4
    assert before["slow"]["schedule"] == []
    invoke("run-scheduled", "--group", "nightly", "--schedule", "daily")
    after = {i["name"]: i for i in json.loads(invoke("list", "--json").output)}
    by_value = {e["params"]["value"]: e for e in after["ok"]["schedule"]}
    assert by_value[1]["status"] == "fresh"
    assert by_value[3]["status"] == "never run"  # hourly entry: not in the daily batch
    assert by_value[1]["freshness"] == "26h"
    assert by_value[1]["next_run"].endswith("+00:00")
    table = invoke("list").output
    assert "daily at 00:05" in table
    assert "fresh" in table


def test_targets_run_once_each(invoke):
    result = invoke("run-scheduled", "--group", "customers")
    assert result.exit_code == 0
    assert "2 succeeded, 0 failed" in result.output
    assert sorted(r["result"] for r in history(invoke)) == ["acme", "globex"]
