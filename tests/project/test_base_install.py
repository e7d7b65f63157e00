"""The base install (no extra) runs the embedded default: no module of an extra is imported.

A quick stand-in for the user-path test (tests/project/test_user_path.py): the drivers are
blocked in a subprocess, then a project is made and its collector run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import harvester as harvester_package

SOURCE = str(Path(harvester_package.__file__).resolve().parents[1])
EXTRA_MODULES = ("redis", "psycopg", "psycopg_binary", "flower")

BLOCKED_HARVESTER = f"""
import sys

for name in {EXTRA_MODULES!r}:
    sys.modules[name] = None  # import fails, find_spec answers None: as if not installed

from harvester.cli import main

sys.argv[0] = "harvester"
main()
"""


def harvester(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARVESTER_", "PYTHONPATH"))}
    env["PYTHONPATH"] = SOURCE  # the harvester under test, wherever this checkout is
    return subprocess.run(
        [sys.executable, "-c", BLOCKED_HARVESTER, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_project_runs_without_any_extra(tmp_path):
    made = harvester(tmp_path, "init", "demo", "--collector", "base_demo")
    assert made.returncode == 0, made.stderr
    ran = harvester(tmp_path / "demo", "run", "base_demo")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    runs = harvester(tmp_path / "demo", "runs", "--json")
    assert runs.returncode == 0, runs.stderr
    assert [(r["collector"], r["status"]) for r in json.loads(runs.stdout)] == [("base_demo", "succeeded")]
    checked = harvester(tmp_path / "demo", "schedule", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_server_url_without_its_extra_says_what_to_install(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_HARVESTER, "info"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": SOURCE, "HARVESTER_BROKER_URL": "redis://:pw@127.0.0.1:6379/0"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "HARVESTER_BROKER_URL names a Redis server" in done.stderr
    assert "pip install 'harvester[redis]'" in done.stderr
    assert "pw" not in done.stderr.replace("pip", "")
