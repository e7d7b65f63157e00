"""load_schedule: every schedule form, the seed-001 example, strictness, and a corpus of broken files."""

from __future__ import annotations

import textwrap
from datetime import time, timedelta

import pytest

from harvester.errors import ConfigError
from harvester.schedule.entries import ScheduleError
from harvester.schedule.loader import TASK_KEYS, load_schedule, parse_schedule_text

KNOWN = "known: github_stars, heartbeat_demo, pinger"
FORMS = "hourly, daily, weekly, monthly, interval, every <N>s|m|h|d or a 5-field cron expression"

SEED_001 = """\
groups:
  github:
    default_time: "00:05"
    tasks:
      # ... existing tasks ...
      - command: run_heartbeat_demo
        schedule: daily
        enabled: false
        args: ["--source-key", "default"]
"""


def parse(text, registry):
    return parse_schedule_text(textwrap.dedent(text).lstrip("\n"), registry)


def one_task(task: str) -> str:
    """A file with group `g` holding one task (the task's first line is line 4)."""
    body = textwrap.indent(textwrap.dedent(task).strip("\n"), " " * 8)
    return "groups:\n  g:\n    tasks:\n      - " + body.lstrip() + "\n"


def test_the_seed_001_example_loads_verbatim(write, registry):
    schedule = load_schedule(write(SEED_001), registry, strict=True)
    assert schedule.problems == ()
    assert schedule.timezone.key == "UTC"
    (entry,) = schedule.entries
    assert (entry.group, entry.index, entry.collector, entry.line) == ("github", 0, "heartbeat_demo", 6)
    assert entry.spec.kind == "daily"
    assert entry.at == time(0, 5)
    assert entry.enabled is False
    assert entry.params == {"source_key": "default"}
    assert entry.freshness == timedelta(hours=26)
    assert (entry.when, entry.queue, entry.overlap) == (None, None, None)
    assert schedule.enabled == ()


@pytest.mark.parametrize(
    ("task", "described", "freshness"),
    [
        ("schedule: hourly", "hourly", "2:00:00"),
        ("schedule: daily", "daily at 00:00", "1 day, 2:00:00"),
        ("schedule: daily\nat: '02:30'", "daily at 02:30", "1 day, 2:00:00"),
        ("schedule: daily\nat: 02:30", "daily at 02:30", "1 day, 2:00:00"),  # unquoted: not YAML 1.1's 150
        ("schedule: weekly\non: monday", "weekly on monday at 00:00", "7 days, 2:00:00"),
        ("schedule: weekly\non: Fri\nat: '18:00'", "weekly on friday at 18:00", "7 days, 2:00:00"),
        ("schedule: monthly\non: 31", "monthly on day 31 at 00:00", "31 days, 2:00:00"),
        ("schedule: interval\nminutes: 30", "every 30m", "1:30:00"),
        ("schedule: interval\nminutes: 1440", "every 1d", "1 day, 2:00:00"),
        ("schedule: every 30s", "every 30s", "0:01:30"),
        ("schedule: every 15m", "every 15m", "0:45:00"),
        ("schedule: every 2h", "every 2h", "3:00:00"),
        ("schedule: '*/10 9-17 * * mon-fri'", "cron */10 9-17 * * mon-fri", "2 days, 17:10:00"),
        ("schedule: daily\nfreshness: 30h", "daily at 00:00", "1 day, 6:00:00"),
    ],
)
def test_every_schedule_form(task, described, freshness, registry):
    schedule = parse(one_task("collector: pinger\n" + task), registry)
    assert schedule.problems == ()
    (entry,) = schedule.entries
    assert entry.schedule_text == described
    assert str(entry.freshness) == freshness


def test_all_task_keys(registry):
    schedule = parse(
        """
        timezone: Europe/Berlin
        groups:
          github:
            default_time: "01:00"
            tasks:
              - collector: github_stars
                schedule: weekly
                on: sunday
                at: "03:15"
                enabled: true
                params: {repo: boostorg/boost}
                when: myapp.checks:new_release
                freshness: 8d
                queue: slow
                overlap: queue
              - collector: pinger
                schedule: daily
                args: ["--count", "3", "--verbose", "--tags", "a", "--tags", "b", "--level", "2"]
        """,
        registry,
    )
    assert schedule.problems == ()
    first, second = schedule.entries
    assert schedule.timezone.key == "Europe/Berlin"
    assert (first.at, first.spec.weekday, first.when, first.queue, first.overlap) == (
        time(3, 15),
        6,
        "myapp.checks:new_release",
        "slow",
        "queue",
    )
    assert first.freshness == timedelta(days=8)
    assert first.params == {"repo": "boostorg/boost"}
    assert (second.index, second.at) == (1, time(1, 0))
    assert second.params == {"count": "3", "verbose": True, "tags": ["a", "b"], "level": 2}


def test_an_empty_file_is_an_empty_schedule(registry):
    schedule = parse("# nothing scheduled yet\n", registry)
    assert (schedule.entries, schedule.problems, schedule.timezone.key) == ((), (), "UTC")


# A corpus of broken files: (file, line, message). The first task of one_task() is on line 4.
BROKEN = [
    pytest.param(
        one_task("collector: pingr\nschedule: daily"),
        4,
        f"unknown collector 'pingr' (did you mean 'pinger'?); {KNOWN}",
        id="unknown collector",
    ),
    pytest.param(
        one_task("command: run_heartbeat\nschedule: daily"),
        4,
        f"unknown collector 'heartbeat' (did you mean 'heartbeat_demo'?); {KNOWN}",
        id="unknown collector in the seed form",
    ),
    pytest.param(
        one_task("command: heartbeat_demo\nschedule: daily"),
        4,
        "bad command 'heartbeat_demo': a command is run_<collector>; to name the collector, "
        "write `collector: heartbeat_demo`",
        id="command without run_",
    ),
    pytest.param(
        one_task("collector: pinger\ncommand: run_pinger\nschedule: daily"),
        5,
        "give either `collector` or `command`, not both",
        id="collector and command",
    ),
    pytest.param(
        one_task("schedule: daily"),
        4,
        "task needs `collector: NAME` (or the seed form `command: run_NAME`)",
        id="no collector",
    ),
    pytest.param(
        one_task("collector: pinger\nschedul: daily"),
        5,
        "unknown key 'schedul' in a task (did you mean 'schedule'?)",
        id="unknown task key",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\npriority: 3"),
        6,
        "unknown key 'priority' in a task; expected one of: " + ", ".join(TASK_KEYS),
        id="unknown task key without a close match",
    ),
    pytest.param(
        one_task("collector: pinger"),
        4,
        f"task needs `schedule` ({FORMS})",
        id="no schedule",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: dayly"),
        5,
        f"bad schedule 'dayly' (did you mean 'daily'?): expected {FORMS}",
        id="bad schedule string",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: '0 2 * *'"),
        5,
        "bad schedule '0 2 * *': a cron expression has 5 fields, got 4",
        id="cron with four fields",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: '61 * * * *'"),
        5,
        "bad cron expression '61 * * * *': minute value 61 is out of range 0-59",
        id="cron value out of range",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: '0 0 31 apr,jun *'"),
        5,
        "bad cron expression '0 0 31 apr,jun *': never matches: no listed month has the listed day",
        id="cron that never matches",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: every 0m"),
        5,
        "bad interval 'every 0m': expected every <N>s, <N>m, <N>h or <N>d with N >= 1",
        id="zero interval",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\nat: '25:00'"),
        6,
        "bad time '25:00' for `at`: expected HH:MM (00:00 to 23:59)",
        id="bad time",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: hourly\nat: '02:00'"),
        6,
        "`at` applies only to daily, weekly and monthly schedules",
        id="at with hourly",
    ),
    pytest.param(
        "groups:\n  g:\n    default_time: noon\n    tasks: []\n",
        3,
        "bad time 'noon' for `default_time`: expected HH:MM (00:00 to 23:59)",
        id="bad default_time",
    ),
    pytest.param(
        "timezone: Europe/Berln\ngroups: {}\n",
        1,
        "unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?); expected an IANA name like Europe/Berlin",
        id="bad timezone",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: weekly"),
        5,
        "weekly schedule needs `on: WEEKDAY` (monday..sunday; or `day_of_week: WEEKDAY`)",
        id="weekly without on",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: weekly\non: funday"),
        6,
        "bad `on` 'funday' for a weekly schedule: expected a weekday by name (monday..sunday or mon..sun)",
        id="bad weekday",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: monthly"),
        5,
        "monthly schedule needs `on: DAY` (1..31, or `day_of_month: DAY`; a day past the month's end "
        "means its last day)",
        id="monthly without on",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: monthly\non: 32"),
        6,
        "bad `on` '32' for a monthly schedule: expected a day of the month, 1..31",
        id="monthly day out of range",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\non: monday"),
        6,
        "`on` applies only to weekly and monthly schedules",
        id="on with daily",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: interval"),
        5,
        "interval schedule needs `minutes: 1..1440`",
        id="interval without minutes",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: interval\nminutes: 1441"),
        6,
        "bad `minutes` '1441': expected a whole number of minutes, 1..1440",
        id="minutes out of range",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: every 5m\nminutes: 5"),
        6,
        "`minutes` applies only to `schedule: interval` (or write `every 15m`)",
        id="minutes with a shorthand",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\nparams:\n  verbose: true\n  count: many"),
        8,
        "invalid params for collector 'pinger': count: Input should be a valid integer, "
        "unable to parse string as an integer",
        id="params fail validation: the field's own line",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\nparams:\n  colour: red"),
        7,
        "unknown params for collector 'pinger': colour (known: count, level, tags, verbose)",
        id="unknown param",
    ),
    pytest.param(
        one_task("collector: heartbeat_demo\nschedule: daily"),
        4,
        "invalid params for collector 'heartbeat_demo': source_key: Field required",
        id="required param missing",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\nparams: [count, 3]"),
        6,
        "`params` must be a mapping (field: value), got a list",
        id="params not a mapping",
    ),
    pytest.param(
        one_task("collector: heartbeat_demo\nschedule: daily\nparams: {source_key: a}\nargs: ['--source-key', 'a']"),
        7,
        "give either `params` or `args`, not both",
        id="params and args",
    ),
    pytest.param(
        one_task("command: run_heartbeat_demo\nschedule: daily\nargs: ['--sorce-key', 'default']"),
        6,
        "bad `args` for collector 'heartbeat_demo': unknown option '--sorce-key' (did you mean '--source-key'?)",
        id="unknown option in args",
    ),
    pytest.param(
        one_task("command: run_heartbeat_demo\nschedule: daily\nargs: ['--source-key']"),
        6,
        "bad `args` for collector 'heartbeat_demo': option '--source-key' needs a value",
        id="option without its value",
    ),
    pytest.param(
        one_task("command: run_heartbeat_demo\nschedule: daily\nargs: --source-key default"),
        6,
        '`args` must be a list of strings like ["--repo", "owner/name"], got \'--source-key default\'',
        id="args not a list",
    ),
    pytest.param(
        one_task("command: run_pinger\nschedule: daily\nargs: ['--count', 'x']"),
        6,
        "invalid params for collector 'pinger': count: Input should be a valid integer, "
        "unable to parse string as an integer",
        id="args fail validation",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\nenabled: maybe"),
        6,
        "`enabled` must be true or false, got 'maybe'",
        id="enabled not a boolean",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\nfreshness: 26 hours"),
        6,
        "bad `freshness` '26 hours': expected a duration like 45m, 26h or 2d",
        id="bad freshness",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\noverlap: wait"),
        6,
        "bad `overlap` 'wait': expected skip or queue",
        id="bad overlap",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\nwhen: on_release"),
        6,
        "bad `when` 'on_release': expected package.module:function",
        id="bad when",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\nschedule: hourly"),
        6,
        "duplicate key 'schedule' in a task (first at line 5)",
        id="duplicate key",
    ),
    pytest.param(
        "groups:\n  g:\n    tasks:\n      - collector: pinger\n        schedule: daily\n"
        "      - collector: pinger\n        schedule: daily\n        params: {count: 1}\n",
        6,
        "duplicate entry: collector 'pinger' with the same params and schedule (daily at 00:00) is already in "
        "group 'g' (line 4)",
        id="duplicate entry (default params spelled out)",
    ),
    pytest.param(
        "groups:\n  g:\n    tasks:\n      - pinger\n",
        4,
        "a task must be a mapping, got 'pinger'",
        id="task not a mapping",
    ),
    pytest.param(
        "groups:\n  g:\n    tasks:\n      collector: pinger\n",
        4,
        "`tasks` of group 'g' must be a list, got a mapping",
        id="tasks not a list",
    ),
    pytest.param(
        "groups:\n  g:\n    default_time: '01:00'\n",
        3,
        "group 'g' needs `tasks:` (a list of tasks)",
        id="group without tasks",
    ),
    pytest.param(
        "groups:\n  g:\n    default_tme: '01:00'\n    tasks: []\n",
        3,
        "unknown key 'default_tme' in group 'g' (did you mean 'default_time'?)",
        id="unknown group key",
    ),
    pytest.param(
        "groups:\n  g: daily\n",
        2,
        "group 'g' must be a mapping, got 'daily'",
        id="group not a mapping",
    ),
    pytest.param(
        "timezone: UTC\ngroup:\n  g: {}\n",
        2,
        "unknown key 'group' in the schedule file (did you mean 'groups'?)",
        id="unknown top-level key",
    ),
    pytest.param(
        "- collector: pinger\n",
        1,
        "the schedule file must be a mapping, got a list",
        id="top level not a mapping",
    ),
    pytest.param(
        "groups:\n  g:\n    tasks:\n      - collector: pinger\n        schedule: daily\n       at: '02:00'\n",
        6,
        "invalid YAML: expected <block end>, but found '<block mapping start>'",
        id="malformed YAML: indentation",
    ),
    pytest.param(
        "groups:\n\tg:\n",
        2,
        "invalid YAML: found character '\\t' that cannot start any token",
        id="malformed YAML: tab",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: */5 * * * *"),
        5,
        "invalid YAML: expected alphabetic or numeric character, but found '/' "
        '(quote a value that starts with * or &, e.g. "*/5 * * * *")',
        id="unquoted cron expression",
    ),
    pytest.param(
        one_task("collector: pinger\nschedule: daily\nparams: {count: !!python/object:os.system x}"),
        6,
        "invalid YAML: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object:os.system'",
        id="unsafe tag",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), BROKEN)
def test_broken_files_name_the_line_and_the_fix(text, line, message, registry):
    schedule = parse_schedule_text(text, registry, path="schedule.yaml")
    assert f"schedule.yaml:{line}: {message}" in [str(p) for p in schedule.problems]


def test_the_corpus_is_large_enough():
    assert len(BROKEN) >= 20


BROKEN_AND_GOOD = """\
timezone: UTC
groups:
  g:
    tasks:
      - collector: pingr
        schedule: daily
      - collector: pinger
        schedule: hourly
      - collector: pinger
        schedule: daily
        at: "24:00"
        params: {count: 2}
"""


def test_strict_loading_raises_listing_every_problem(write, registry):
    path = write(BROKEN_AND_GOOD)
    with pytest.raises(ScheduleError) as caught:
        load_schedule(path, registry, strict=True)
    assert isinstance(caught.value, ConfigError)
    assert str(caught.value).splitlines() == [
        f"{path}:5: unknown collector 'pingr' (did you mean 'pinger'?); {KNOWN}",
        f"{path}:11: bad time '24:00' for `at`: expected HH:MM (00:00 to 23:59)",
    ]


def test_lenient_loading_skips_bad_entries_and_keeps_their_problems(write, registry):
    schedule = load_schedule(write(BROKEN_AND_GOOD), registry, strict=False)
    assert [(e.collector, e.index, e.line) for e in schedule.entries] == [("pinger", 1, 7)]
    assert [p.line for p in schedule.problems] == [5, 11]


def test_a_bad_group_header_skips_the_group_but_still_checks_its_tasks(registry):
    text = (
        "groups:\n  a:\n    default_time: '7 am'\n    tasks:\n      - {collector: pinger, schedule: daily}\n"
        "      - {collector: nope, schedule: daily}\n"
        "  b:\n    tasks:\n      - {collector: pinger, schedule: daily}\n"
    )
    schedule = parse_schedule_text(text, registry)
    assert [e.group for e in schedule.entries] == ["b"]
    assert [p.line for p in schedule.problems] == [3, 6]


def test_a_bad_timezone_skips_every_entry(registry):
    schedule = parse(
        "timezone: Mars/Base\ngroups:\n  g:\n    tasks:\n      - {collector: pinger, schedule: daily}\n", registry
    )
    assert schedule.entries == ()
    assert [p.line for p in schedule.problems] == [1]


def test_the_same_collector_with_other_params_or_in_another_group_is_no_duplicate(registry):
    schedule = parse(
        """
        groups:
          a:
            tasks:
              - {collector: pinger, schedule: daily, params: {count: 1}}
              - {collector: pinger, schedule: daily, params: {count: 2}}
          b:
            tasks:
              - {collector: pinger, schedule: daily, params: {count: 1}}
        """,
        registry,
    )
    assert schedule.problems == ()
    assert len(schedule.entries) == 3


def test_an_unreadable_file_is_a_config_error(tmp_path, registry):
    with pytest.raises(ConfigError, match=r"cannot read schedule file .*missing\.yaml: No such file or directory"):
        load_schedule(tmp_path / "missing.yaml", registry, strict=False)
