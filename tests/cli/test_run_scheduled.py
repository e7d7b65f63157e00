"""`harvester run-scheduled`: one group's batch, in file order, as the scheduler would run it."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import date

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
  copy:
    tasks:
      - collector: ok
        schedule: daily
        params: {value: 1}
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
    assert result.output.strip().endswith("2 succeeded, 1 failed (daily entries)")
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


def test_schedule_all_runs_the_whole_group(invoke):
    result = invoke("run-scheduled", "--group", "nightly", "--schedule", "all")
    assert "3 succeeded, 1 failed (all entries)" in result.output


WEEKDAYS = """
timezone: Europe/Berlin
groups:
  nightly:
    tasks:
      - {collector: ok, schedule: daily, params: {value: 1}}
      - {collector: ok, schedule: weekly, on: monday, params: {value: 2}}
      - {collector: ok, schedule: weekly, day_of_week: wednesday, params: {value: 3}}
      - {collector: ok, schedule: monthly, on: '2', params: {value: 4}}
      - {collector: ok, schedule: monthly, on: 15, params: {value: 5}}
      - {collector: ok, schedule: hourly, params: {value: 6}}
      - {collector: ok, schedule: every 15m, params: {value: 7}}
      - {collector: ok, schedule: '0 9 * * mon-fri', params: {value: 8}}
      - {collector: ok, schedule: '0 9 * * sat,sun', params: {value: 9}}
"""


@pytest.fixture
def weekdays(invoke, tmp_path, monkeypatch):
    (tmp_path / "schedule.yaml").write_text(textwrap.dedent(WEEKDAYS))
    monkeypatch.setattr("harvester.cli.schedule.today", lambda tz: date(2026, 12, 2))  # a Wednesday
    return invoke


def test_by_default_the_entries_due_today_run_and_the_others_are_not_due_today(weekdays):
    result = weekdays("run-scheduled", "--group", "nightly")
    assert result.exit_code == 0, result.output
    assert "ok (line 7): not due today (weekly on monday at 00:00)" in result.output
    assert "ok (line 10): not due today (monthly on day 15 at 00:00)" in result.output
    assert "ok (line 14): not due today (cron 0 9 * * sat,sun)" in result.output
    assert result.output.strip().endswith("6 succeeded, 0 failed (entries due today in Europe/Berlin; 3 not due)")
    assert sorted(r["params"]["value"] for r in history(weekdays)) == [1, 3, 4, 6, 7, 8]


def test_day_picks_another_day_and_schedule_all_runs_everything(weekdays):
    monday = weekdays("run-scheduled", "--group", "nightly", "--day", "2026-11-30")
    assert "ok (line 8): not due on Monday 2026-11-30 (weekly on wednesday at 00:00)" in monday.output
    assert "(entries due on Monday 2026-11-30 in Europe/Berlin; 4 not due)" in monday.output
    everything = weekdays("run-scheduled", "--group", "nightly", "--schedule", "all")
    assert "9 succeeded, 0 failed (all entries)" in everything.output
    weekly = weekdays("run-scheduled", "--group", "nightly", "--schedule", "weekly")
    assert "2 succeeded, 0 failed (weekly entries)" in weekly.output


def test_day_is_checked(weekdays):
    bad = weekdays("run-scheduled", "--group", "nightly", "--day", "Wednesday")
    assert bad.exit_code == 2
    assert "bad --day 'Wednesday': expected a date as YYYY-MM-DD" in bad.output
    both = weekdays("run-scheduled", "--group", "nightly", "--day", "2026-11-30", "--schedule", "all")
    assert both.exit_code == 2


def test_config_failure_exits_2_and_unknown_group_is_named(invoke):
    assert invoke("run-scheduled", "--group", "other").exit_code == 2
    unknown = invoke("run-scheduled", "--group", "nightlly")
    assert unknown.exit_code == 2
    assert "no group 'nightlly' in the schedule (did you mean 'nightly'?)" in unknown.output


def test_list_shows_schedule_next_run_and_freshness(invoke):
    before = {i["name"]: i for i in json.loads(invoke("list", "--json").output)}
    assert [e["status"] for e in before["ok"]["schedule"]] == ["never run"] * 5
    assert before["slow"]["schedule"] == []
    invoke("run-scheduled", "--group", "nightly", "--schedule", "daily")
    after = {i["name"]: i for i in json.loads(invoke("list", "--json").output)}
    by_value = {e["params"]["value"]: e for e in after["ok"]["schedule"] if e["group"] == "nightly"}
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


def test_a_batch_is_the_groups_last_batch_and_freshness_counts_only_the_entrys_own_runs(invoke):
    invoke("run-scheduled", "--group", "nightly", "--schedule", "daily")
    runs = history(invoke)
    listed = {c["name"]: c for c in json.loads(invoke("list", "--json").output)}
    entries = {(e["group"], e["params"].get("value")): e for e in listed["ok"]["schedule"]}
    # the same collector and params in group copy did not run: it is not fresh from nightly's run
    assert (entries["nightly", 1]["status"], entries["copy", 1]["status"]) == ("fresh", "never run")
    assert entries["copy", 1]["group_last_batch"] is None
    batch = entries["nightly", 1]["group_last_batch"]
    assert (batch["runs"], batch["succeeded"], batch["failed"], batch["unfinished"]) == (3, 2, 1, 0)
    assert (batch["outcome"], batch["started_at"], batch["ended_at"]) == (
        "failed",
        runs[0]["queued_at"],
        max(r["finished_at"] for r in runs),
    )
    table = " ".join(invoke("list").output.split())
    assert "group entries last batch outcome succeeded failed unfinished" in table
    assert re.search(r"nightly 5 \d+s ago failed 2 1 0", table)
    assert "copy 1 never - - - -" in table


def test_each_run_scheduled_is_a_new_batch_of_its_group(invoke):
    invoke("run-scheduled", "--group", "nightly", "--schedule", "daily")
    invoke("run-scheduled", "--group", "copy")
    invoke("run-scheduled", "--group", "nightly", "--schedule", "hourly")
    listed = {c["name"]: c for c in json.loads(invoke("list", "--json").output)}
    batches = {e["group"]: e["group_last_batch"] for e in listed["ok"]["schedule"]}
    assert (batches["nightly"]["runs"], batches["nightly"]["outcome"]) == (1, "succeeded")  # the hourly one
    assert (batches["copy"]["runs"], batches["copy"]["succeeded"]) == (1, 1)
    ids = {r["batch_id"] for r in history_rows(invoke)}
    assert len(ids) == 3


def history_rows(invoke) -> list[dict]:
    from harvester import Harvester, Settings

    hv = Harvester(Settings())
    try:
        return hv.store.list_runs(limit=100)
    finally:
        hv.close()
