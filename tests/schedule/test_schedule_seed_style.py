"""Schedule files as the seed systems write them: every accepted spelling, and each mistake refused at its
line with the fix in the message."""

from __future__ import annotations

import textwrap
from datetime import time

import pytest

from harvester.schedule.loader import parse_schedule_text

SEED_STYLE = """\
timezone: Europe/Berlin
groups:
  github:
    default_time: "00:05"
    tasks:
      - command: run_heartbeat_demo
        schedule: daily
        args: ["--source-key", "default"]
      - command: run_heartbeat_demo
        schedule: weekly
        on: friday
        args: ["--source-key", "default"]
      - command: run_heartbeat_demo
        schedule: monthly
        on: '15'
        args: ["--source-key", "default"]
      - collector: pinger
        schedule: weekly
        day_of_week: Mon
        at: "06:00"
      - collector: pinger
        schedule: monthly
        day_of_month: 1
      - collector: pinger
        schedule: monthly
        day_of_month: "31"
      - collector: pinger
        schedule: interval
        minutes: '30'
      - collector: pinger
        schedule: daily
        enabled: false
  reports:
    tasks:
      - command: run_heartbeat_demo
        schedule: daily
        args: ["--source-key", "default"]
"""


def parse(text, registry):
    return parse_schedule_text(textwrap.dedent(text).lstrip("\n"), registry, path="schedule.yaml")


def test_a_file_in_the_seed_style_with_every_spelling_is_accepted(registry):
    schedule = parse(SEED_STYLE, registry)
    assert schedule.problems == ()
    assert [(e.group, e.line, e.schedule_text) for e in schedule.entries] == [
        ("github", 6, "daily at 00:05"),
        ("github", 9, "weekly on friday at 00:05"),
        ("github", 13, "monthly on day 15 at 00:05"),
        ("github", 17, "weekly on monday at 06:00"),
        ("github", 21, "monthly on day 1 at 00:05"),
        ("github", 24, "monthly on day 31 at 00:05"),
        ("github", 27, "every 30m"),
        ("github", 30, "daily at 00:05"),
        ("reports", 35, "daily at 00:00"),
    ]
    assert {e.collector for e in schedule.entries[:3]} == {"heartbeat_demo"}
    assert all(e.params == {"source_key": "default"} for e in schedule.entries[:3])


def test_the_same_collector_and_params_on_three_schedules_of_one_group_are_three_entries(registry):
    schedule = parse(SEED_STYLE, registry)
    same = [e for e in schedule.entries if e.group == "github" and e.collector == "heartbeat_demo"]
    assert [(e.spec.kind, e.spec.weekday, e.spec.monthday, e.at) for e in same] == [
        ("daily", None, None, time(0, 5)),
        ("weekly", 4, None, time(0, 5)),
        ("monthly", None, 15, time(0, 5)),
    ]


def task(body: str, *, group: str = "g") -> str:
    """A file with one group holding one task; the task's first line is line 4."""
    lines = textwrap.dedent(body).strip("\n").splitlines()
    return f"groups:\n  {group}:\n    tasks:\n      - " + "\n        ".join(lines) + "\n"


# (file, line, message): each mistake of a seed-style file, at its line, with the fix.
MISTAKES = [
    pytest.param(
        task("command: heartbeat_demo\nschedule: daily"),
        4,
        "bad command 'heartbeat_demo': a command is run_<collector>; to name the collector, "
        "write `collector: heartbeat_demo`",
        id="command without run_, a known collector",
    ),
    pytest.param(
        task("command: heartbeat\nschedule: daily"),
        4,
        "bad command 'heartbeat': a command is run_<collector>; to name the collector, "
        "write `collector: heartbeat_demo`",
        id="command without run_, close to a collector",
    ),
    pytest.param(
        task("command: fetch_everything\nschedule: daily"),
        4,
        "bad command 'fetch_everything': a command is run_<collector>; to name the collector, write `collector: NAME`",
        id="command without run_, nothing close",
    ),
    pytest.param(
        task("collector: pinger\nschedule: on_release"),
        5,
        "bad schedule 'on_release': a condition is not a schedule; check it on a schedule and run only when it "
        "holds: `schedule: daily` (or hourly, ...) with `when: yourpackage.checks:on_release`, "
        "a function that returns true when the entry should run",
        id="on_release",
    ),
    pytest.param(
        task("collector: pinger\nschedule: weekly\non: friday\nday_of_week: friday"),
        7,
        "give either `on` or `day_of_week`, not both",
        id="on and day_of_week",
    ),
    pytest.param(
        task("collector: pinger\nschedule: monthly\nday_of_week: friday"),
        6,
        "`day_of_week` applies only to weekly schedules (a monthly one takes `day_of_month`)",
        id="day_of_week on a monthly entry",
    ),
    pytest.param(
        task("collector: pinger\nschedule: weekly\nday_of_month: 15"),
        6,
        "`day_of_month` applies only to monthly schedules (a weekly one takes `day_of_week`)",
        id="day_of_month on a weekly entry",
    ),
    pytest.param(
        task("collector: pinger\nschedule: weekly\nday_of_week: '5'"),
        6,
        "bad `day_of_week` '5' for a weekly schedule: expected a weekday by name (monday..sunday or mon..sun)",
        id="day_of_week as a number",
    ),
    pytest.param(
        task("collector: pinger\nschedule: monthly\non: '32'"),
        6,
        "bad `on` '32' for a monthly schedule: expected a day of the month, 1..31",
        id="quoted day out of range",
    ),
    pytest.param(
        task("collector: pinger\nschedule: monthly\nday_of_month: 'the 15th'"),
        6,
        "bad `day_of_month` 'the 15th' for a monthly schedule: expected a day of the month, 1..31",
        id="day_of_month not a number",
    ),
    pytest.param(
        task("collector: pinger\nschedule: weekly"),
        5,
        "weekly schedule needs `on: WEEKDAY` (monday..sunday; or `day_of_week: WEEKDAY`)",
        id="weekly without a day",
    ),
    pytest.param(
        "groups:\n  '':\n    tasks:\n      - {collector: pinger, schedule: daily}\n",
        2,
        "a group needs a name (e.g. `github:`), got an empty one",
        id="empty group name",
    ),
    pytest.param(
        "groups:\n  '   ':\n    tasks:\n      - {collector: pinger, schedule: daily}\n",
        2,
        "a group needs a name (e.g. `github:`), got an empty one",
        id="whitespace group name",
    ),
    pytest.param(
        "groups:\n  ~:\n    tasks:\n      - {collector: pinger, schedule: daily}\n",
        2,
        "a group needs a name (e.g. `github:`), got an empty one",
        id="null group name",
    ),
    pytest.param(
        "groups:\n  g:\n    tasks:\n      - &daily {collector: pinger, schedule: daily}\n      - *daily\n",
        5,
        "duplicate entry: collector 'pinger' with the same params and schedule (daily at 00:00) is already in "
        "group 'g' (line 4)",
        id="duplicate made with an alias",
    ),
    pytest.param(
        "groups:\n  g:\n    default_time: '00:05'\n    tasks:\n"
        "      - {command: run_heartbeat_demo, schedule: daily, args: [--source-key, a]}\n"
        "      - {collector: heartbeat_demo, schedule: daily, at: '00:05', params: {source_key: a}}\n",
        6,
        "duplicate entry: collector 'heartbeat_demo' with the same params and schedule (daily at 00:05) is "
        "already in group 'g' (line 5)",
        id="duplicate in two spellings",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), MISTAKES)
def test_each_mistake_is_refused_at_its_line_with_the_fix(text, line, message, registry):
    schedule = parse_schedule_text(text, registry, path="schedule.yaml")
    assert [str(p) for p in schedule.problems] == [f"schedule.yaml:{line}: {message}"]
    assert line not in [e.line for e in schedule.entries]


def test_an_empty_group_name_leaves_the_other_groups_alone(registry):
    schedule = parse(
        "groups:\n  '':\n    tasks: []\n  g:\n    tasks:\n      - {collector: pinger, schedule: daily}\n", registry
    )
    assert [e.group for e in schedule.entries] == ["g"]


def test_an_alias_of_a_task_in_another_group_is_no_duplicate(registry):
    schedule = parse(
        "groups:\n  a:\n    tasks:\n      - &t {collector: pinger, schedule: daily}\n  b:\n    tasks:\n      - *t\n",
        registry,
    )
    assert schedule.problems == ()
    assert [(e.group, e.line) for e in schedule.entries] == [("a", 4), ("b", 7)]


ALL_MISTAKES = """\
groups:
  github:
    tasks:
      - command: heartbeat_demo
        schedule: daily
        args: ["--source-key", "default"]
      - &weekly
        command: run_heartbeat_demo
        schedule: weekly
        on: friday
        args: ["--source-key", "default"]
      - collector: pinger
        schedule: on_release
      - collector: pinger
        schedule: monthly
        on: '15'
        day_of_month: 15
      - *weekly
  '  ':
    tasks: []
"""


@pytest.fixture
def check(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from harvester.cli.schedule import schedule

    monkeypatch.setenv("HARVESTER_COLLECTORS", "schedule_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))

    def run(text: str):
        path = tmp_path / "schedule.yaml"
        path.write_text(text, encoding="utf-8")
        return path, CliRunner().invoke(schedule, ["check", str(path)], catch_exceptions=False)

    return run


def test_schedule_check_accepts_the_seed_style_file(check):
    _, result = check(SEED_STYLE)
    assert result.exit_code == 0, result.output
    assert result.stdout == "9 entries OK\n"


def test_schedule_check_refuses_each_mistake_at_its_line_with_the_fix(check):
    path, result = check(ALL_MISTAKES)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:4: bad command 'heartbeat_demo': a command is run_<collector>; to name the collector, "
        "write `collector: heartbeat_demo`",
        f"{path}:13: bad schedule 'on_release': a condition is not a schedule; check it on a schedule and run "
        "only when it holds: `schedule: daily` (or hourly, ...) with `when: yourpackage.checks:on_release`, "
        "a function that returns true when the entry should run",
        f"{path}:17: give either `on` or `day_of_month`, not both",
        f"{path}:18: duplicate entry: collector 'heartbeat_demo' with the same params and schedule "
        "(weekly on friday at 00:00) is already in group 'github' (line 7)",
        f"{path}:19: a group needs a name (e.g. `github:`), got an empty one",
    ]
