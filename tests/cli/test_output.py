"""Output that composes: --json leaves stdout one JSON document, tables off a terminal keep each
row on one line (no word cut), NO_COLOR, --version, shell completion."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from harvester.cli import cli

LONG = "a_collector_with_a_rather_long_name_that_no_eighty_column_table_can_hold_whole"
COLOUR = re.compile(r"\x1b\[(?:\d+;)*(?:3\d|9\d|38;)")  # a foreground colour (bold alone is no colour)

MODULE = f"""
from pydantic import BaseModel, SecretStr

from harvester import Collector


class Long(Collector):
    name = "{LONG}"

    class Params(BaseModel):
        folder: str = "a/folder/with/a/rather/long/path/that/goes/on/and/on/for/a/while"
        token: SecretStr = SecretStr("")

    def collect(self):
        return {{"folder": self.params.folder}}


class Printer(Collector):
    name = "printer"

    def collect(self):
        print("a line a careless collector prints")
        return 1
"""

SCHEDULE = f"""\
groups:
  nightly:
    tasks:
      - collector: {LONG}
        schedule: daily
        at: "02:30"
        params: {{token: '${{LONG_TOKEN}}'}}
      - collector: ok
        schedule: every 30s
        enabled: false
"""


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    (tmp_path / "long_collectors.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HARVESTER_COLLECTORS", "sample_collectors,long_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HARVESTER_SCHEDULE_FILE", str(tmp_path / "schedule.yaml"))
    monkeypatch.setenv("HARVESTER_RETRY_DELAY", "0.01")
    monkeypatch.delenv("COLUMNS", raising=False)
    (tmp_path / "schedule.yaml").write_text(SCHEDULE)
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False, env=env)

    return run


@pytest.fixture
def record_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No broker, no worker: a triggered run is recorded and stays queued."""
    from harvester.execution.requests import new_run

    def submit(self: Any, requests: Any) -> list[str]:
        self.store.create_runs([new_run(self.registry, r) for r in requests])
        return [r.run_id for r in requests]

    monkeypatch.setattr("harvester.app.Harvester.submit", submit)


# -- --json: stdout is one JSON document --------------------------------------------------------


def test_run_json_prints_the_run_alone_on_stdout(invoke: Any) -> None:
    result = invoke("run", "ok", "--value", "5", "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert (run["collector"], run["status"], run["result"]) == ("ok", "succeeded", {"value": 5})


def test_run_json_of_a_failed_run_is_json_too_with_the_exit_code(invoke: Any) -> None:
    result = invoke("run", "retry_fail", "--json")
    assert result.exit_code == 1
    run = json.loads(result.stdout)  # the retries' notes went to stderr
    assert (run["status"], run["error_category"], run["attempt"]) == ("failed", "network", 3)
    assert "retrying in" in result.stderr


def test_run_json_of_a_collector_that_logs_keeps_logs_off_stdout(invoke: Any) -> None:
    result = invoke("run", "chatty", "--json")
    assert json.loads(result.stdout)["collector"] == "chatty"


def test_run_json_of_a_collector_that_prints_moves_its_lines_to_stderr(invoke: Any) -> None:
    result = invoke("run", "printer", "--json")
    assert json.loads(result.stdout)["result"] == 1
    assert "a line a careless collector prints" in result.stderr
    plain = invoke("run", "printer")  # without --json its stdout is its own
    assert "a line a careless collector prints" in plain.stdout


@pytest.mark.usefixtures("record_only")
def test_trigger_json_prints_the_queued_run(invoke: Any) -> None:
    result = invoke("trigger", "ok", "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert (run["collector"], run["status"], run["trigger"]) == ("ok", "queued", "cli")
    assert "Collection task queued for ok" in result.stderr


@pytest.mark.usefixtures("record_only")
def test_trigger_wait_json_that_gives_up_prints_the_run_as_it_is(invoke: Any) -> None:
    result = invoke("trigger", "ok", "--wait", "--timeout", "0.3", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "queued"
    assert "not waiting any longer" in result.stderr


@pytest.mark.usefixtures("record_only")
def test_trigger_wait_without_json_prints_the_run_id_first(invoke: Any) -> None:
    result = invoke("trigger", "ok", "--wait", "--timeout", "0.3")
    run_id = result.stdout.splitlines()[0]
    assert json.loads(invoke("runs", "show", run_id, "--json").stdout)["status"] == "queued"


def test_schedule_show_json(invoke: Any) -> None:
    result = invoke("schedule", "show", "--json", "--after", "2026-03-01T00:00+00:00")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["timezone"], shown["after"], shown["problems"]) == ("UTC", "2026-03-01T00:00:00+00:00", [])
    first, second = shown["entries"]
    assert first["collector"] == LONG
    assert first["next_runs"] == [f"2026-03-0{day}T02:30:00+00:00" for day in (1, 2, 3)]
    assert first["params"] == {"token": "${LONG_TOKEN}"}  # a reference, as in the table
    assert first["freshness"] > 0
    assert (second["enabled"], second["next_runs"], second["line"]) == (False, [], 8)


def test_schedule_show_json_lists_problems_in_the_document_and_on_stderr(invoke: Any, tmp_path: Path) -> None:
    (tmp_path / "schedule.yaml").write_text(SCHEDULE.replace("collector: ok", "collector: okk"))
    result = invoke("schedule", "show", "--json")
    shown = json.loads(result.stdout)
    assert len(shown["entries"]) == 1
    assert "unknown collector 'okk'" in shown["problems"][0]
    assert "unknown collector 'okk'" in result.stderr


# -- tables off a terminal ------------------------------------------------------------------------


def test_tables_off_a_terminal_never_wrap_inside_a_word(invoke: Any) -> None:
    assert invoke("run", LONG).exit_code == 0
    runs = invoke("runs").stdout
    row = next(line for line in runs.splitlines() if LONG in line)  # the whole name on one line
    assert "succeeded" in row
    shown = invoke("schedule", "show").stdout
    assert any(LONG in line and "token=${LONG_TOKEN}" in line for line in shown.splitlines()), shown


# -- colour ---------------------------------------------------------------------------------------


def test_colour_on_a_forced_terminal_and_none_with_no_color(invoke: Any) -> None:
    assert invoke("run", "ok").exit_code == 0
    coloured = invoke("runs", env={"FORCE_COLOR": "1"}).stdout
    assert COLOUR.search(coloured), repr(coloured)
    plain = invoke("runs", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert "succeeded" in plain
    assert not COLOUR.search(plain), repr(plain)


# -- version and completion -----------------------------------------------------------------------


def test_version_prints_the_package_version(invoke: Any) -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"harvester, version {version('harvester')}"


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o nosort -F"), ("zsh", "#compdef harvester")])
def test_the_completion_variable_prints_a_completion_script(shell: str, marker: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harvester"],
        env={"_HARVESTER_COMPLETE": f"{shell}_source", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout
    assert "_HARVESTER_COMPLETE" in done.stdout
