"""The project file: found from the current folder upwards, read with clear errors, ranked below
environment variables and .env."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester.project import ProjectError, find_project
from harvester.settings import Settings, setting_sources

KNOWN = Settings.model_fields


def write(root: Path, table: str) -> Path:
    file = root / "pyproject.toml"
    file.write_text(f'[project]\nname = "x"\n\n[tool.harvester]\n{table}\n\n[tool.ruff]\nline-length = 100\n')
    return file


def test_found_from_a_subfolder_with_paths_from_its_root(project, monkeypatch):
    write(project, 'collectors = ["a", "b"]\nschedule-file = "conf/schedule.yaml"\nconcurrency = 4')
    (project / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(project / "src" / "deep")
    settings = Settings()
    assert settings.collectors == ["a", "b"]
    assert settings.schedule_file == project / "conf" / "schedule.yaml"
    assert settings.data_dir == project / ".harvester"  # one data folder wherever a process starts
    assert settings.concurrency == 4


def test_a_pyproject_without_the_table_is_passed_over(project):
    inner = project / "lib"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "lib"\n')
    found = find_project(inner, KNOWN)
    assert found is not None
    assert found.root == project


def test_no_project_leaves_the_defaults(tmp_path):
    assert find_project(tmp_path, KNOWN) is None
    assert Settings().collectors == ["harvester.examples"]
    assert Settings().data_dir == Path(".harvester")


def test_environment_and_dotenv_override_the_project(project, monkeypatch):
    write(project, 'concurrency = 4\nlog_level = "DEBUG"\nretries = 7')
    monkeypatch.chdir(project)
    (project / ".env").write_text("HARVESTER_LOG_LEVEL=WARNING\n")
    monkeypatch.setenv("HARVESTER_CONCURRENCY", "3")
    settings = Settings()
    assert (settings.concurrency, settings.log_level, settings.retries) == (3, "WARNING", 7)
    sources = setting_sources()
    assert (sources["concurrency"], sources["log_level"], sources["retries"]) == ("env", ".env", "project")
    assert sources["data_dir"] == "project"
    assert sources["lock_ttl"] == "default"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "colectors = []",
            r"pyproject.toml:5 \[tool.harvester\] colectors: unknown setting \(did you mean 'collectors'\?\)",
        ),
        ('api_token = "s3cret"', r":5 \[tool.harvester\] api_token: a token does not belong in a file you commit"),
        ("data_dir = 3", r":5 \[tool.harvester\] data_dir: expected a path"),
        ("[tool.harvester.collectors]\nx = 1", r"\[tool.harvester\] collectors: expected a value, got a table"),
    ],
)
def test_bad_tables_are_refused_naming_file_line_and_key(project, table, message):
    write(project, table)
    with pytest.raises(ProjectError, match=message):
        find_project(project, KNOWN)


def test_a_secret_never_appears_in_the_refusal(project):
    write(project, 'api_token = "s3cret-value"')
    with pytest.raises(ProjectError) as caught:
        find_project(project, KNOWN)
    assert "s3cret-value" not in str(caught.value)


def test_broken_toml_names_the_file(project):
    (project / "pyproject.toml").write_text("[tool.harvester\n")
    with pytest.raises(ProjectError, match=r"pyproject.toml: not valid TOML"):
        find_project(project, KNOWN)
