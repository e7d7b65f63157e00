"""`harvester list --format markdown`: a catalogue of the registered collectors to commit as docs."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from harvester.cli import cli

MODULE = """
from pydantic import BaseModel, Field, SecretStr

from harvester import Collector


class Stars(Collector):
    name = "catalogue_stars"
    description = "Star counts | of one repository."

    class Params(BaseModel):
        repo: str = Field(description="owner/name")
        limit: int = Field(10, description="How many.")
        label: str | None = None
        token: SecretStr | None = SecretStr("s3cret")

    def collect(self) -> None:
        return None


class Bare(Collector):
    name = "catalogue_bare"

    def collect(self) -> None:
        return None
"""

SCHEDULE = """\
timezone: UTC
groups:
  github:
    tasks:
      - collector: catalogue_stars
        schedule: every 5m
        params: {repo: a/b, limit: 3}
      - collector: catalogue_stars
        schedule: daily
        at: "02:30"
        enabled: false
        params: {repo: c/d}
"""


@pytest.fixture
def invoke(tmp_path, monkeypatch):
    (tmp_path / "catalogue_demo.py").write_text(textwrap.dedent(MODULE))
    (tmp_path / "schedule.yaml").write_text(SCHEDULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HARVESTER_COLLECTORS", "catalogue_demo")
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


def test_markdown_lists_collectors_params_and_schedule_entries(invoke, tmp_path):
    result = invoke("list", "--format", "markdown")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "# Collectors"
    assert "| [`catalogue_bare`](#catalogue_bare) | - | - |" in lines
    assert "| [`catalogue_stars`](#catalogue_stars) | Star counts \\| of one repository. | every 5m |" in lines
    assert "## catalogue_stars" in lines
    assert "| `repo` | `str` | required | owner/name |" in lines
    assert "| `limit` | `int` | `10` | How many. |" in lines
    assert "| `label` | `str \\| None` | `null` | - |" in lines
    assert '| `token` | `pydantic.types.SecretStr \\| None` | `"**********"` | - |' in lines
    assert '| `github` | every 5m | `{"repo": "a/b", "limit": 3}` | yes | 15m |' in lines
    assert '| `github` | daily at 02:30 | `{"repo": "c/d"}` | no | 26h |' in lines
    assert "No params." in lines
    assert "Not in the schedule file." in lines
    assert "s3cret" not in result.output
    assert not (tmp_path / ".harvester").exists()  # no database was needed


def test_markdown_is_stable_for_committing(invoke):
    assert invoke("list", "--format", "markdown").output == invoke("list", "--format", "markdown").output


def test_without_a_schedule_file_no_collector_is_scheduled(invoke, tmp_path):
    (tmp_path / "schedule.yaml").unlink()
    assert invoke("list", "--format", "markdown").output.count("Not in the schedule file.") == 2


def test_json_keeps_working_both_ways(invoke):
    by_flag = json.loads(invoke("list", "--json").output)
    by_format = json.loads(invoke("list", "--format", "json").output)
    assert [i["name"] for i in by_flag] == [i["name"] for i in by_format] == ["catalogue_bare", "catalogue_stars"]


def test_json_and_another_format_contradict(invoke):
    result = invoke("list", "--json", "--format", "markdown")
    assert result.exit_code == 2
    assert "--json and --format markdown contradict each other" in result.output


def test_table_is_the_default(invoke):
    result = invoke("list")
    assert result.exit_code == 0
    assert "catalogue_bar" in result.output  # the narrow test terminal folds the name
    assert "# Collectors" not in result.output
