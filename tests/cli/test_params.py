"""Unit tests of harvester.cli.params: collector Params -> click options, ``--param key=value``, merging."""

from __future__ import annotations

import enum
from typing import Any, Literal

import click
import pytest
from pydantic import BaseModel, Field, SecretBytes, SecretStr

from harvester import Collector
from harvester.cli.params import describe_params, params_command, parse_param_pairs
from harvester.errors import ParamsError


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


class Nested(BaseModel):
    depth: int = 1


class Everything(Collector):
    name = "everything"
    description = "A collector with one field of each kind."

    class Params(BaseModel):
        repo: str = Field(description="owner/name")
        api_key: SecretStr
        verbose: bool = True
        limit: int = 10
        ratio: float = 0.5
        tags: list[str] = []
        ids: list[int] = []
        mode: Literal["fast", "slow"] = "fast"
        tier: Literal[1, 2, 3] = 1
        color: Color = Color.RED
        level: Level = Level.LOW
        since: int | None = None
        label: str | None = None
        labels: dict[str, int] = {}
        nested: Nested = Nested()
        password: SecretStr = SecretStr("hunter2-str")
        blob: SecretBytes = SecretBytes(b"hunter2-bytes")


class Plain(Collector):
    name = "plain"

    def collect(self) -> Any:
        return None


def parse(*args: str, cls: type[Collector] = Everything) -> dict[str, Any]:
    return params_command(cls, list(args), "harvester run everything")


def build(*args: str) -> Any:
    """Parse like the CLI, then validate like the runner: the params model."""
    return Everything(**parse(*args)).params


# -- the documented example -----------------------------------------------------------------------


def test_example_command_line() -> None:
    parsed = parse("--repo", "x", "--api-key", "k", "--no-verbose", "--param", "limit=5")
    assert parsed == {"repo": "x", "api_key": "k", "verbose": False, "limit": "5"}
    params = Everything(**parsed).params
    assert params.limit == 5
    assert params.verbose is False
    assert params.api_key.get_secret_value() == "k"


def test_unset_options_are_left_out() -> None:
    assert parse("--repo", "x", "--api-key", "k") == {"repo": "x", "api_key": "k"}
    assert parse() == {}


def test_missing_required_field_is_reported_by_validation() -> None:
    with pytest.raises(ParamsError, match="api_key"):
        Everything(**parse("--repo", "x"))


# -- typed options --------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "expected"), [(["--verbose"], True), (["--no-verbose"], False)])
def test_bool_flags(args: list[str], expected: bool) -> None:
    assert parse(*args) == {"verbose": expected}


def test_bool_default_applies_when_flag_absent() -> None:
    assert build("--repo", "x", "--api-key", "k").verbose is True


def test_int_and_float_options_are_converted() -> None:
    parsed = parse("--limit", "3", "--ratio", "0.25")
    assert parsed == {"limit": 3, "ratio": 0.25}
    assert isinstance(parsed["limit"], int)


@pytest.mark.parametrize("args", [["--limit", "lots"], ["--ratio", "half"], ["--ids", "x"]])
def test_bad_scalar_values_are_usage_errors(args: list[str]) -> None:
    with pytest.raises(click.BadParameter):
        parse(*args)


def test_list_options_repeat_and_come_back_as_lists() -> None:
    parsed = parse("--tags", "a", "--tags", "b", "--ids", "1", "--ids", "2")
    assert parsed == {"tags": ["a", "b"], "ids": [1, 2]}
    assert isinstance(parsed["tags"], list)


def test_literal_option() -> None:
    assert parse("--mode", "slow") == {"mode": "slow"}
    with pytest.raises(click.BadParameter):
        parse("--mode", "medium")


def test_non_str_literal_option_gives_the_literal_value() -> None:
    parsed = parse("--tier", "2")
    assert parsed == {"tier": 2}
    assert build("--repo", "x", "--api-key", "k", "--tier", "3").tier == 3
    with pytest.raises(click.BadParameter):
        parse("--tier", "4")


def test_enum_option_by_value() -> None:
    assert parse("--color", "blue") == {"color": "blue"}
    assert build("--repo", "x", "--api-key", "k", "--color", "blue").color is Color.BLUE
    with pytest.raises(click.BadParameter):
        parse("--color", "BLUE")  # values, not member names


def test_int_enum_option_validates() -> None:
    assert build("--repo", "x", "--api-key", "k", "--level", "2").level is Level.HIGH
    with pytest.raises(click.BadParameter):
        parse("--level", "3")


def test_optional_fields_get_their_inner_type() -> None:
    assert parse("--since", "3", "--label", "prod") == {"since": 3, "label": "prod"}
    with pytest.raises(click.BadParameter):
        parse("--since", "yesterday")


def test_complex_fields_have_no_option() -> None:
    for flag in ("--labels", "--nested"):
        with pytest.raises(click.NoSuchOption):
            parse(flag, "{}")


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(click.NoSuchOption):
        parse("--colour", "red")


# -- --param --------------------------------------------------------------------------------------


def test_param_json_list_and_object() -> None:
    parsed = parse("--param", "ids=[1, 2, 3]", "--param", 'labels={"a": 1}', "--param", 'nested={"depth": 4}')
    assert parsed == {"ids": [1, 2, 3], "labels": {"a": 1}, "nested": {"depth": 4}}
    params = build("--repo", "x", "--api-key", "k", "--param", 'labels={"a": 1}', "--param", 'nested={"depth": 4}')
    assert params.labels == {"a": 1}
    assert params.nested == Nested(depth=4)


def test_param_json_booleans_and_null() -> None:
    assert parse("--param", "verbose=false", "--param", "since=null") == {"verbose": False, "since": None}


def test_param_values_that_are_not_json_stay_strings() -> None:
    assert parse("--param", "limit=5", "--param", "repo=[a-z]+", "--param", "q=a=b") == {
        "limit": "5",
        "repo": "[a-z]+",
        "q": "a=b",
    }


def test_param_text_fields_keep_json_looking_values_as_typed() -> None:
    parsed = parse("--param", "repo=true", "--param", "label=null", "--param", "api_key=[1]")
    assert parsed == {"repo": "true", "label": "null", "api_key": "[1]"}
    params = Everything(**parsed).params
    assert params.repo == "true"
    assert params.label == "null"


def test_param_dashes_become_underscores() -> None:
    assert parse("--param", "api-key=k") == {"api_key": "k"}


def test_param_sets_fields_that_have_options_too() -> None:
    assert parse("--param", 'tags=["a", "b"]', "--param", "mode=slow") == {"tags": ["a", "b"], "mode": "slow"}


@pytest.mark.parametrize("bad", ["novalue", "=x", ""])
def test_malformed_param_is_a_bad_parameter(bad: str) -> None:
    with pytest.raises(click.BadParameter) as excinfo:
        parse("--param", bad)
    assert repr(bad) in str(excinfo.value.message)
    assert excinfo.value.param_hint == "--param"


def test_parse_param_pairs_directly() -> None:
    assert parse_param_pairs(["a=1", "b=[1]", "c={bad"]) == {"a": "1", "b": [1], "c": "{bad"}
    assert parse_param_pairs(["b=[1]"], decode=False) == {"b": "[1]"}
    with pytest.raises(click.BadParameter):
        parse_param_pairs(["justakey"])


@pytest.mark.parametrize(
    "args",
    [
        ["--param", "limit=5", "--limit", "9"],
        ["--limit", "9", "--param", "limit=5"],
    ],
)
def test_typed_options_win_over_param(args: list[str]) -> None:
    assert parse(*args) == {"limit": 9}


def test_typed_option_wins_for_flags_and_lists() -> None:
    parsed = parse("--param", "verbose=true", "--no-verbose", "--param", 'tags=["p"]', "--tags", "t")
    assert parsed == {"verbose": False, "tags": ["t"]}


def test_collector_without_params() -> None:
    assert parse(cls=Plain) == {}
    parsed = parse("--param", "x=1", cls=Plain)
    assert parsed == {"x": "1"}
    with pytest.raises(ParamsError, match="x"):
        Plain(**parsed)


# -- --help and describe_params -------------------------------------------------------------------


def test_help_lists_options_without_secret_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(click.exceptions.Exit):
        parse("--help")
    out = capsys.readouterr().out
    for expected in (
        "--repo",
        "--api-key",
        "--verbose / --no-verbose",
        "--tags",
        "[fast|slow]",
        "[red|blue]",
        "--param KEY=VALUE",
        "owner/name",
        "A collector with one field of each kind.",
    ):
        assert expected in out
    assert "hunter2" not in out
    assert "Color.RED" not in out  # an enum default is shown as its value


def test_describe_params_masks_secret_defaults() -> None:
    rows = {row["name"]: row for row in describe_params(Everything.Params)}
    assert rows["repo"] == {"name": "repo", "type": "str", "default": None, "required": True}
    assert rows["limit"]["default"] == 10
    assert rows["limit"]["required"] is False
    assert rows["password"]["default"] == "**********"
    assert rows["blob"]["default"] == "**********"
