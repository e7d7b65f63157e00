"""`harvester schedule check` and `schedule show` (the click group invoked on its own)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harvester.cli.schedule import COMMANDS, schedule

GOOD = """\
timezone: Europe/Berlin
groups:
  github:
    default_time: "00:05"
    tasks:
      - command: run_heartbeat_demo
        schedule: daily
        enabled: false
        args: ["--source-key", "default"]
      - collector: github_stars
        schedule: daily
        at: "02:30"
        params: {repo: boostorg/boost, token: '${GITHUB_TOKEN}'}
      - collector: pinger
        schedule: every 30s
"""

BAD = """\
groups:
  g:
    tasks:
      - collector: pingr
        schedule: daily
      - collector: pinger
        schedule: weekly
"""


@pytest.fixture
def invoke(monkeypatch, tmp_path):
    monkeypatch.setenv("HARVESTER_COLLECTORS", "schedule_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(schedule, list(args), catch_exceptions=False, env={"COLUMNS": "200"})

    return run


def test_the_commands_are_registered_on_the_cli():
    from harvester.cli import cli

    assert all(cli.commands[command.name] is command for command in COMMANDS)
    assert schedule in COMMANDS


def test_check_a_good_file_exits_0(invoke, write):
    write(GOOD)
    result = invoke("check")  # schedule.yaml in the current folder
    assert result.exit_code == 0, result.output
    assert result.output == "3 entries OK\n"


def test_check_counts_one_entry_in_the_singular(invoke, write):
    path = write("groups:\n  g:\n    tasks:\n      - {collector: pinger, schedule: hourly}\n", "one.yaml")
    assert invoke("check", str(path)).output == "1 entry OK\n"


def test_check_prints_every_problem_and_exits_1(invoke, write):
    path = write(BAD, "bad.yaml")
    result = invoke("check", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:4: unknown collector 'pingr' (did you mean 'pinger'?); known: github_stars, heartbeat_demo, pinger",
        f"{path}:7: weekly schedule needs `on: WEEKDAY` (monday..sunday; or `day_of_week: WEEKDAY`)",
    ]
    assert result.stderr == "2 problems\n"


def test_check_a_missing_file_exits_2(invoke):
    result = invoke("check", "nowhere.yaml")
    assert result.exit_code == 2
    assert "cannot read schedule file nowhere.yaml: No such file or directory" in result.stderr


def test_check_with_an_unknown_collector_module_exits_2(invoke, write, monkeypatch):
    write(GOOD)
    monkeypatch.setenv("HARVESTER_COLLECTORS", "no_such_module")
    result = invoke("check")
    assert result.exit_code == 2
    assert "cannot import collector module 'no_such_module'" in result.stderr


def test_show_prints_the_next_three_runs_in_the_schedules_time_zone(invoke, write):
    write(GOOD)
    result = invoke("show", "--after", "2025-03-29T12:00")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "time zone: Europe/Berlin" in out
    for moment in ("2025-03-30 03:00 CEST", "2025-03-31 02:30 CEST", "2025-04-01 02:30 CEST"):
        assert moment in out
    for moment in ("2025-03-29 12:00:30 CET", "2025-03-29 12:01:00 CET", "2025-03-29 12:01:30 CET"):
        assert moment in out
    assert "daily at 02:30" in out
    assert "every 30s" in out
    assert "disabled" in out  # the seed entry: enabled: false
    assert "26h" in out
    assert "1m30s" in out
    assert "repo=boostorg/boost" in out
    assert "token=${GITHUB_TOKEN}" in out  # a reference is not a secret: it is shown


def test_check_refuses_a_literal_secret_naming_its_line_and_the_reference_syntax(invoke, write):
    write(GOOD.replace("token: '${GITHUB_TOKEN}'", "token: s3cret-value"))
    result = invoke("check")
    assert result.exit_code == 1
    assert "schedule.yaml:13: param 'token' of collector 'github_stars' is a secret" in result.output
    assert "${ENV_NAME} or ${file:/path/to/secret}" in result.output
    assert "s3cret-value" not in result.output


def test_check_refuses_an_escaped_literal_secret_too(invoke, write):
    write(GOOD.replace("token: '${GITHUB_TOKEN}'", "token: '$${GITHUB_TOKEN}'"))
    assert "param 'token' of collector 'github_stars' is a secret" in invoke("check").output


def test_check_accepts_a_file_reference_and_a_null_secret(invoke, write):
    write(GOOD.replace("token: '${GITHUB_TOKEN}'", "token: '${file:/run/secrets/github}'"))
    assert invoke("check").exit_code == 0
    write(GOOD.replace("token: '${GITHUB_TOKEN}'", "token: null"))
    assert invoke("check").exit_code == 0


def test_show_reports_problems_and_shows_the_rest(invoke, write):
    write(BAD + "      - {collector: pinger, schedule: hourly}\n")
    result = invoke("show", "--after", "2025-01-01T10:30+00:00")
    assert result.exit_code == 0
    assert "schedule.yaml:4: unknown collector 'pingr'" in result.stderr
    assert "2025-01-01 11:00 UTC" in result.stdout


def test_show_refuses_a_bad_moment(invoke, write):
    write(GOOD)
    result = invoke("show", "--after", "tomorrow")
    assert result.exit_code == 2
    assert "bad --after 'tomorrow'" in result.stderr
