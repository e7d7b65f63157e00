"""A collector that raises SystemExit(n) fails its run, and `run` / `run-scheduled` exit with n."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from harvester.cli import cli
from harvester.errors import CollectorExit

SCHEDULE = """
groups:
  nightly:
    tasks:
      - {collector: fine, schedule: daily}
      - {collector: exits, schedule: daily, params: {code: '4'}}
      - {collector: fine, schedule: hourly}
"""


@pytest.fixture
def invoke(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setenv("HARVESTER_COLLECTORS", "exit_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "schedule.yaml").write_text(textwrap.dedent(SCHEDULE))
    monkeypatch.setenv("HARVESTER_SCHEDULE_FILE", str(tmp_path / "schedule.yaml"))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("code", "exit_code", "message"),
    [
        ("3", 3, "CollectorExit: the collector called sys.exit(3)"),
        ("70", 70, "CollectorExit: the collector called sys.exit(70)"),
        ("why not", 1, "CollectorExit: the collector exited: why not"),
        ("0", 1, "CollectorExit: the collector called sys.exit(0); a run succeeds by returning from collect()"),
    ],
)
def test_run_exits_with_the_collectors_code_and_records_the_failure(invoke, code, exit_code, message):
    result = invoke("run", "exits", "--code", code)
    assert result.exit_code == exit_code, result.output
    (run,) = json.loads(invoke("runs", "--json").output)
    assert (run["status"], run["error_category"], run["attempt"]) == ("failed", "unknown", 1)  # not retried
    assert run["error_message"] == message


def test_run_scheduled_with_stop_on_failure_exits_with_the_collectors_code(invoke):
    result = invoke("run-scheduled", "--group", "nightly", "--schedule", "all", "--stop-on-failure")
    assert result.exit_code == 4, result.output
    assert "1 succeeded, 1 failed (all entries)" in result.output
    assert "fine (line 7): skipped: exits (line 6) failed and --stop-on-failure is set" in result.output


def test_run_scheduled_goes_on_after_it_and_exits_with_its_code(invoke):
    result = invoke("run-scheduled", "--group", "nightly", "--schedule", "all")
    assert result.exit_code == 4, result.output
    assert "2 succeeded, 1 failed (all entries)" in result.output


def test_collector_exit_codes():
    assert [CollectorExit.of(SystemExit(code)).code for code in (2, 255, "text", None, 0, True)] == [2, 255, 1, 1, 1, 1]
