"""`harvester startcollector`: names it refuses, what --dry-run leaves alone, what it never overwrites."""

from __future__ import annotations

import keyword
from pathlib import Path

import pytest
from click.testing import CliRunner

from harvester import scaffold
from harvester.cli import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")}


EXPECTED_FILES = [
    "README.md",
    "__init__.py",
    "collector.py",
    "schedule_snippet.yaml",
    "services.py",
    "tests/__init__.py",
    "tests/test_collector.py",
    "tests/test_end_to_end.py",
]


def test_creates_the_package_and_prints_the_next_steps(tmp_path):
    result = invoke("startcollector", "heartbeat_demo")
    assert result.exit_code == 0, result.output
    root = tmp_path / "heartbeat_demo"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == EXPECTED_FILES
    assert "class HeartbeatDemoCollector(Collector):" in (root / "collector.py").read_text()
    assert 'name = "heartbeat_demo"' in (root / "collector.py").read_text()
    assert "enabled: false" in (root / "schedule_snippet.yaml").read_text()
    assert "HARVESTER_COLLECTORS=heartbeat_demo" in result.output
    assert "$" not in "".join((root / f).read_text() for f in EXPECTED_FILES if f.endswith(".py"))


def test_dry_run_prints_the_plan_and_the_snippet_and_writes_nothing(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    before = snapshot(tmp_path)
    result = invoke("startcollector", "heartbeat_demo", "--dry-run", "--dir", "collectors")
    assert result.exit_code == 0, result.output
    assert snapshot(tmp_path) == before
    assert "would create collectors/heartbeat_demo/" in result.output
    for name in EXPECTED_FILES:
        assert f"  {name}\n" in result.output
    assert "- collector: heartbeat_demo\n        schedule: daily\n        enabled: false" in result.output
    assert "dry run: nothing was written" in result.output


def test_dir_option_creates_missing_parent_folders(tmp_path):
    result = invoke("startcollector", "beats", "--dir", "src/team")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "src/team/beats/collector.py").is_file()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Heartbeat", "use lower-case letters, digits and underscores, starting with a letter"),
        ("1st", "starting with a letter"),
        ("_private", "starting with a letter"),
        ("heart-beat", "use lower-case letters"),
        ("class", "it is a Python keyword"),
        ("match", "it is a Python keyword"),
        ("harvester", "reserved"),
        ("test", "reserved"),
        ("tests", "reserved"),
        ("settings", "reserved"),
        ("config", "reserved"),
        ("system_metrics", "a collector named 'system_metrics' is already registered"),
        ("json", "a module of that name is already importable"),
    ],
)
def test_invalid_names_are_refused_with_exit_2(tmp_path, name, message):
    before = snapshot(tmp_path)
    result = invoke("startcollector", name)
    assert result.exit_code == 2
    assert message in result.output
    assert f"{name!r}" in result.output
    assert snapshot(tmp_path) == before


def test_every_python_keyword_is_refused():
    for word in keyword.kwlist:
        if scaffold.NAME_PATTERN.match(word):
            with pytest.raises(scaffold.ScaffoldError, match="keyword"):
                scaffold.check_name(word)


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "heartbeat_demo").mkdir()
    (tmp_path / "heartbeat_demo" / "collector.py").write_text("# mine\n")
    before = snapshot(tmp_path)
    result = invoke("startcollector", "heartbeat_demo")
    assert result.exit_code == 2
    assert "heartbeat_demo already exists; startcollector never overwrites" in result.output
    assert snapshot(tmp_path) == before


def test_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = invoke("startcollector", "heartbeat_demo", "--dir", "afile")
    assert result.exit_code == 2
    assert "'afile' is a file" in result.output
    with pytest.raises(scaffold.ScaffoldError, match="--dir afile is not a folder"):
        scaffold.plan("heartbeat_demo", Path("afile"))


def test_a_file_that_appears_between_plan_and_write_is_kept(tmp_path):
    planned = scaffold.plan("late_demo", tmp_path)
    target = planned.root / "services.py"
    target.parent.mkdir(parents=True)
    target.write_text("# written meanwhile\n")
    with pytest.raises(scaffold.ScaffoldError, match=r"services\.py already exists"):
        scaffold.write(planned)
    assert target.read_text() == "# written meanwhile\n"


def test_class_name_is_camel_case_with_collector_suffix():
    assert scaffold.class_name("heartbeat_demo") == "HeartbeatDemoCollector"
    assert scaffold.class_name("a1") == "A1Collector"


def test_an_overlong_name_is_refused_with_one_line(tmp_path):
    before = snapshot(tmp_path)
    result = invoke("startcollector", "a" * 300)
    assert result.exit_code == 2
    assert "(300 characters): at most 60" in result.output
    assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before
