"""`harvester trigger --all [--group G]`: every collector that needs no params, or each entry of a group."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harvester import Harvester, Settings
from harvester.cli import cli

SCHEDULE = """\
groups:
  web:
    tasks:
      - collector: probe_needs_url
        schedule: daily
        params: {url: "https://a.example"}
      - collector: probe_needs_url
        schedule: hourly
        params: {url: "https://b.example"}
      - collector: probe_ok
        schedule: daily
        enabled: false
  other:
    tasks:
      - collector: probe_ok
        schedule: daily
"""


@pytest.fixture
def invoke(monkeypatch, tmp_path):
    (tmp_path / "schedule.yaml").write_text(SCHEDULE)
    monkeypatch.setenv("HARVESTER_COLLECTORS", "probe_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


def recorded(tmp_path) -> list[dict]:
    hv = Harvester(Settings(data_dir=tmp_path / "data", collectors=["probe_collectors"]))
    try:
        hv.store.upgrade()  # a refused command may have made no database
        return sorted(hv.store.list_runs(limit=100), key=lambda r: (r["collector"], str(r["params"])))
    finally:
        hv.close()


def test_all_enqueues_every_collector_that_needs_no_params(invoke, tmp_path):
    result = invoke("trigger", "--all")
    assert result.exit_code == 0
    ids = result.stdout.split()
    runs = recorded(tmp_path)
    assert sorted(ids) == sorted(r["id"] for r in runs)
    assert [r["collector"] for r in runs] == ["probe_denied", "probe_hangs", "probe_ok"]
    assert {(r["status"], r["trigger"], r["entry_key"]) for r in runs} == {("queued", "cli", None)}
    assert "not triggered, they need params: probe_flag, probe_needs_url" in result.stderr
    assert "3 collection tasks queued (every collector that needs no params)" in result.stderr


def test_all_of_a_group_enqueues_its_enabled_entries_as_one_batch_of_it(invoke, tmp_path):
    result = invoke("trigger", "--all", "--group", "web", "--json")
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert [(r["collector"], r["params"], r["trigger"]) for r in shown] == [
        ("probe_needs_url", {"url": "https://a.example"}, "cli"),
        ("probe_needs_url", {"url": "https://b.example"}, "cli"),
    ]
    runs = recorded(tmp_path)
    assert len(runs) == 2
    assert {r["schedule_group"] for r in runs} == {"web"}
    assert len({r["batch_id"] for r in runs}) == 1
    assert len({r["entry_key"] for r in runs}) == 2  # each counts for its own entry's freshness


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["probe_ok", "--all"], "--all triggers every collector"),
        (["--all", "--wait"], "--all triggers every collector"),
        (["--all", "--group", "wbe"], "no group 'wbe' in the schedule (did you mean 'web'?); groups: other, web"),
        (["--all", "--expires", "soon"], "--expires: bad"),
    ],
)
def test_bad_combinations_exit_2(invoke, tmp_path, args, message):
    result = invoke("trigger", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert recorded(tmp_path) == []


def test_a_broker_that_refuses_them_exits_1_and_the_runs_stay_recorded_for_recovery(invoke, tmp_path, monkeypatch):
    monkeypatch.setenv("HARVESTER_BROKER_URL", "redis://127.0.0.1:1/0")
    result = invoke("trigger", "--all")
    assert result.exit_code == 1
    assert "the 3 runs are recorded and are sent once the broker is back" in result.stderr
    assert [r["status"] for r in recorded(tmp_path)] == ["queued"] * 3
