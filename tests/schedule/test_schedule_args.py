"""parse_cli_args: the seed's `args:` list spelled as on the command line, parsed like `harvester run`."""

from __future__ import annotations

import pytest
import schedule_collectors

from harvester.cli.params import params_command
from harvester.collector import validate_params
from harvester.schedule.args import parse_cli_args


@pytest.mark.parametrize(
    ("cls", "args"),
    [
        (schedule_collectors.HeartbeatDemo, ["--source-key", "default"]),
        (schedule_collectors.HeartbeatDemo, ["--source-key=default"]),
        (schedule_collectors.Pinger, ["--count", "3", "--verbose"]),
        (schedule_collectors.Pinger, ["--no-verbose", "--tags", "a", "--tags", "b"]),
        (schedule_collectors.Pinger, ["--level", "2"]),
        (schedule_collectors.Pinger, ["--param", 'tags=["x"]', "--param", "count=4"]),
        (schedule_collectors.Pinger, ["--param", "count=4", "--count", "5"]),
        (schedule_collectors.GithubStars, ["--repo", "a/b", "--param", "token=null"]),
        (schedule_collectors.Pinger, []),
    ],
)
def test_same_params_as_the_command_line(cls, args):
    parsed = parse_cli_args(cls, args)
    assert validate_params(cls, parsed) == validate_params(cls, params_command(cls, args, "run"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["default"], "unexpected argument 'default'"),
        (["--count"], "option '--count' needs a value"),
        (["--verbose=yes"], "option '--verbose' is a flag and takes no value"),
        (["--cuont", "1"], "unknown option '--cuont' (did you mean '--count'?)"),
        (["--param", "count"], "--param expects key=value, got 'count'"),
    ],
)
def test_errors(args, message):
    with pytest.raises(ValueError) as caught:
        parse_cli_args(schedule_collectors.Pinger, args)
    assert str(caught.value) == f"bad `args` for collector 'pinger': {message}"
