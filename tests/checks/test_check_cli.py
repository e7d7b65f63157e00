"""`harvester check`: a table (or JSON) of probes, stored, exit 1 on any failure, secrets masked."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from harvester import Harvester, Settings
from harvester.cli import cli
from harvester.history.checks import CheckStore

SCHEDULE = """\
groups:
  web:
    tasks:
      - collector: probe_needs_url
        schedule: daily
        params: {url: "https://a.example"}
      - collector: probe_denied
        schedule: daily
        params: {token: "${PROBE_TOKEN}"}
"""


@pytest.fixture
def invoke(monkeypatch, tmp_path):
    (tmp_path / "schedule.yaml").write_text(SCHEDULE)
    monkeypatch.setenv("HARVESTER_COLLECTORS", "probe_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PROBE_TOKEN", "s3cret-token")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


def stored(tmp_path) -> dict:
    hv = Harvester(Settings(data_dir=tmp_path / "data", collectors=["probe_collectors"]))
    try:
        return CheckStore(hv.store).latest()
    finally:
        hv.close()


def test_one_passing_and_one_failing_probe_print_a_table_and_exit_1(invoke, tmp_path):
    result = invoke("check", "probe_ok", "probe_denied")
    assert result.exit_code == 1
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["collector", "entry", "result", "detail", "took"]
    assert lines[1][:4] == ["probe_denied", "web", "(line", "7)"]
    assert "failed (permission)" in result.stdout
    assert "PermissionError: 403 Forbidden: token ********** was refused" in result.stdout
    assert lines[2][:4] == ["probe_ok", "defaults", "ok", "reachable"]
    assert "1 passed, 1 failed" in result.stderr
    assert "s3cret-token" not in result.output
    rows = stored(tmp_path)
    assert {(r["collector"], r["ok"], r["source"]) for r in rows.values()} == {
        ("probe_denied", False, "cli"),
        ("probe_ok", True, "cli"),
    }


def test_without_names_every_entry_and_every_collector_without_params_is_probed(invoke, hang):
    result = invoke("check", "--json", "--timeout", "0.5")
    assert result.exit_code == 1
    got = [(r["collector"], r["entry"], r["ok"], r["category"]) for r in json.loads(result.stdout)]
    assert got == [
        ("probe_denied", "web (line 7)", False, "permission"),
        ("probe_hangs", "defaults", False, "timeout"),
        ("probe_needs_url", "web (line 4)", True, None),
        ("probe_ok", "defaults", True, None),
    ]
    assert json.loads(result.stdout)[0]["params"] == {"token": "${PROBE_TOKEN}"}


def test_all_passing_exits_0(invoke):
    result = invoke("check", "probe_ok", "probe_needs_url")
    assert result.exit_code == 0
    assert "2 passed, 0 failed" in result.stderr


def test_params_on_the_command_line_for_one_collector(invoke):
    result = invoke("check", "probe_needs_url", "--param", "url=http://plain.example", "--json")
    assert result.exit_code == 1
    (probe,) = json.loads(result.stdout)
    assert (probe["entry"], probe["category"]) == ("--param", "config")
    assert "url must start with https://" in probe["detail"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["probe_nope"], "unknown collector 'probe_nope' (did you mean 'probe_ok'?)"),
        (["probe_ok", "probe_denied", "-p", "a=1"], "--param goes with exactly one collector NAME"),
        (["probe_ok", "-p", "novalue"], "expected key=value"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(invoke, args, message):
    result = invoke("check", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_named_collector_that_needs_params_and_has_no_entry_is_refused(invoke, tmp_path):
    (tmp_path / "schedule.yaml").write_text("groups: {}\n")
    result = invoke("check", "probe_needs_url")
    assert result.exit_code == 2
    assert "probe_needs_url: needs params: give them with --param KEY=VALUE" in result.stderr


def test_schedule_problems_are_warnings_and_the_good_entries_still_run(invoke, tmp_path):
    bad = SCHEDULE + textwrap.indent("- collector: probe_ok\n  schedule: sometimes\n", "      ")
    (tmp_path / "schedule.yaml").write_text(bad)
    result = invoke("check", "probe_needs_url")
    assert result.exit_code == 0
    assert "skipped:" in result.stderr
    assert "bad schedule 'sometimes'" in result.stderr


def test_a_history_database_that_refuses_the_results_is_a_warning_not_a_lost_verdict(invoke, monkeypatch):
    from harvester.history.engine import DatabaseError

    def refuse(self, results, source):
        raise DatabaseError("INSERT", {}, RuntimeError("disk I/O error"))

    monkeypatch.setattr(CheckStore, "record", refuse)
    result = invoke("check", "probe_denied")
    assert result.exit_code == 1
    assert "warning: results not stored, the history database failed: disk I/O error" in result.stderr
    assert "probe_denied" in result.stdout
