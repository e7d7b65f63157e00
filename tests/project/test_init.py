"""`harvester init`, `startcollector` inside a project, and `harvester info`."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from harvester.cli import cli
from harvester.failure_text import MASK
from harvester.whereabouts import mask_url


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_init_makes_a_project_whose_first_collector_is_registered_and_scheduled(tmp_path, monkeypatch):
    result = invoke("init", "demo", "--collector", "first_demo")
    assert result.exit_code == 0, result.output
    root = tmp_path / "demo"
    assert "next: cd demo && harvester up" in result.output
    assert "scheduled first_demo every 1m, enabled" in result.output
    assert (root / "first_demo" / "collector.py").is_file()
    assert "/.harvester/" in (root / ".gitignore").read_text().splitlines()
    monkeypatch.chdir(root / "first_demo")  # anywhere inside the project
    checked = invoke("schedule", "check")
    assert checked.exit_code == 0, checked.output
    assert "1 entry OK" in checked.output
    report = json.loads(invoke("info", "--json").stdout)
    assert report["project"]["root"] == str(root)
    assert report["collectors"] == [{"name": "first_demo", "class": "first_demo.collector.FirstDemoCollector"}]
    assert report["data_dir"] == str(root / ".harvester")
    assert report["settings"]["collectors"] == {"value": ["first_demo"], "source": "project"}


def test_init_refuses_an_existing_project_and_changes_nothing(tmp_path):
    assert invoke("init", "--collector", "one_demo").exit_code == 0
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    again = invoke("init", ".", "--collector", "two_demo")
    assert again.exit_code == 2
    assert "already has a [tool.harvester] table" in again.output
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_init_refuses_a_folder_with_a_schedule(tmp_path):
    (tmp_path / "schedule.yaml").write_text("groups:\n")
    result = invoke("init", "--collector", "one_demo")
    assert result.exit_code == 2
    assert "schedule.yaml already exists; init never overwrites" in result.output
    assert not (tmp_path / "pyproject.toml").exists()


def test_init_adds_the_table_to_an_existing_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mine"\n# keep me\n')
    (tmp_path / ".gitignore").write_text("dist/")
    assert invoke("init", "--collector", "one_demo").exit_code == 0
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith('[project]\nname = "mine"\n# keep me\n\n[tool.harvester]\n')
    assert 'collectors = ["one_demo"]' in text
    assert (tmp_path / ".gitignore").read_text().splitlines()[:2] == ["dist/", "/.harvester/"]


def test_init_refuses_a_bad_schedule_before_writing(tmp_path):
    result = invoke("init", "--collector", "one_demo", "--schedule", "weekly")
    assert result.exit_code == 2
    assert "needs an `on:` day" in result.output
    assert list(tmp_path.iterdir()) == []


def test_startcollector_in_a_project_registers_and_schedules(project, monkeypatch):
    (project / "pyproject.toml").write_text(
        '[tool.harvester]\ncollectors = [\n    "one_demo",  # the first\n]\nschedule_file = "schedule.yaml"\n'
        "\n[tool.other]\nx = 1\n"
    )
    (project / "schedule.yaml").write_text("# mine\ngroups:\n    other:\n        tasks: []\n")
    (project / "one_demo.py").write_text("")
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    result = invoke("startcollector", "two_demo", "--schedule", "every 2h")
    assert result.exit_code == 0, result.output
    assert (project / "two_demo" / "collector.py").is_file()  # at the root, not in sub/
    text = (project / "pyproject.toml").read_text()
    assert 'collectors = ["one_demo", "two_demo"]\nschedule_file' in text
    assert text.endswith("[tool.other]\nx = 1\n")
    schedule = yaml.safe_load((project / "schedule.yaml").read_text())
    assert schedule["groups"]["two_demo"]["tasks"] == [
        {"collector": "two_demo", "schedule": "every 2h", "enabled": True, "params": {"source_key": "default"}}
    ]
    assert (project / "schedule.yaml").read_text().startswith("# mine\n")
    assert "scheduled two_demo every 2h, enabled" in result.output
    checked = invoke("schedule", "check")
    assert checked.exit_code == 0, checked.output


@pytest.mark.parametrize(
    "schedule",
    [
        "groups:\n  two_demo:\n    tasks: []\n",
        "groups: {a: {tasks: []}}\n",
        "groups:\n  a: {tasks: []}\ntimezone: UTC\n",
    ],
)
def test_a_schedule_it_cannot_extend_writes_nothing_and_says_what_to_add(project, monkeypatch, schedule):
    (project / "schedule.yaml").write_text(schedule)
    (project / "pyproject.toml").write_text('[tool.harvester]\ncollectors = []\nschedule_file = "schedule.yaml"\n')
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    monkeypatch.chdir(project)
    result = invoke("startcollector", "two_demo")
    assert result.exit_code == 2
    assert "by hand:" in result.output
    assert "- collector: two_demo" in result.output
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before


def test_groups_written_as_an_empty_flow_mapping_are_extended(project, monkeypatch):
    (project / "schedule.yaml").write_text("timezone: UTC\ngroups: {}\n")
    (project / "pyproject.toml").write_text('[tool.harvester]\ncollectors = []\nschedule_file = "schedule.yaml"\n')
    monkeypatch.chdir(project)
    assert invoke("startcollector", "two_demo").exit_code == 0
    assert list(yaml.safe_load((project / "schedule.yaml").read_text())["groups"]) == ["two_demo"]


def test_info_masks_passwords_and_names_each_source(project, monkeypatch):
    monkeypatch.chdir(project)
    monkeypatch.setenv("HARVESTER_BROKER_URL", "redis://:hunter2@127.0.0.1:6379/3")
    monkeypatch.setenv("HARVESTER_API_TOKEN", "tok-secret")
    result = invoke("info", "--json")
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert "tok-secret" not in result.output
    report = json.loads(result.stdout)
    assert report["broker"] == f"redis://:{MASK}@127.0.0.1:6379/3"
    assert report["settings"]["api_token"] == {"value": MASK, "source": "env"}
    assert report["settings"]["collectors"]["source"] == "project"
    text = invoke("info")
    assert "project      " + str(project) in text.stdout
    assert "hunter2" not in text.output


def test_info_outside_a_project_says_so(tmp_path):
    result = invoke("info")
    assert result.exit_code == 0, result.output
    assert "project      none ([tool.harvester] not found upwards)" in result.stdout


def test_a_bad_project_value_names_the_file_and_key(project, monkeypatch):
    (project / "pyproject.toml").write_text("[tool.harvester]\nconcurrency = 0\n")
    monkeypatch.chdir(project)
    result = invoke("info")
    assert result.exit_code == 2
    assert f"{project / 'pyproject.toml'}:2 [tool.harvester] concurrency: Input should be greater than" in result.output


def test_every_command_says_which_project_it_uses(project, monkeypatch):
    monkeypatch.chdir(project)
    result = invoke("info", "--json")
    assert f"project {project} (pyproject.toml)" in result.stderr
    assert str(project) not in result.stdout.split("{", 1)[0]  # stdout holds the JSON only


def test_a_schedule_file_the_project_names_but_lacks_stops_up_naming_the_key(project, monkeypatch):
    (project / "pyproject.toml").write_text('[tool.harvester]\ncollectors = []\nschedule_file = "missing.yaml"\n')
    monkeypatch.chdir(project)
    result = invoke("up", "--no-api", "--no-examples")
    assert result.exit_code == 2
    assert (
        f"{project / 'pyproject.toml'}:3 [tool.harvester] schedule_file names {project / 'missing.yaml'}"
        in result.output
    )


def test_a_table_without_collectors_gets_the_key(project, monkeypatch):
    (project / "pyproject.toml").write_text('[tool.harvester]\nschedule_file = "schedule.yaml"\n\n[tool.x]\ny = 1\n')
    (project / "schedule.yaml").write_text("groups:\n")
    monkeypatch.chdir(project)
    assert invoke("startcollector", "two_demo").exit_code == 0
    text = (project / "pyproject.toml").read_text()
    assert text.startswith('[tool.harvester]\ncollectors = ["two_demo"]\nschedule_file')
    assert text.endswith("[tool.x]\ny = 1\n")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://harvester:s3cret@rabbit:5672//", "amqp://harvester:***@rabbit:5672//"),
        ("postgresql://u:p%40ss@db/h", "postgresql://u:***@db/h"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_urls_are_shown_without_their_password(url, shown):
    assert mask_url(url) == shown.replace("***", MASK)
