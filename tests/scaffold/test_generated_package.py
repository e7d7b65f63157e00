"""A scaffolded collector passes ruff, mypy --strict and its own tests as generated, and runs
once registered: the acceptance test of `harvester startcollector`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harvester import scaffold

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# harvester is installed in editable mode here, through an import hook mypy cannot follow; a
# user's mypy sees an installed, typed harvester. MYPYPATH plus `follow_imports = silent` is the
# same view: harvester's types are used, its own findings are not the package's to fix.
MYPY_INI = """\
[mypy]
strict = True

[mypy-harvester.*]
follow_imports = silent

[mypy-celery.*,kombu.*,billiard.*,psutil.*,redis.*]
ignore_missing_imports = True
"""


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scaffolded")
    scaffold.write(scaffold.plan("pulse_demo", folder))
    return folder


def test_ruff_finds_nothing_with_harvesters_own_rules(generated):
    run([str(BIN / "ruff"), "check", "--config", str(REPO / "pyproject.toml"), "pulse_demo"], generated)
    run([str(BIN / "ruff"), "format", "--check", "--config", str(REPO / "pyproject.toml"), "pulse_demo"], generated)


def test_mypy_strict_finds_nothing(generated):
    (generated / "mypy.ini").write_text(MYPY_INI)
    run(
        [str(BIN / "mypy"), "--config-file", "mypy.ini", "--cache-dir", str(generated / ".mypy_cache"), "pulse_demo"],
        generated,
        MYPYPATH=str(REPO),
    )


def test_its_own_tests_pass(generated):
    done = run([sys.executable, "-m", "pytest", "pulse_demo", "-q", "-p", "no:cacheprovider"], generated)
    assert "5 passed" in done.stdout


def test_registered_it_runs_with_harvester_run_and_its_snippet_checks(generated):
    env = {"PYTHONPATH": str(generated), "HARVESTER_COLLECTORS": "pulse_demo", "HARVESTER_DATA_DIR": "data"}
    done = run([str(BIN / "harvester"), "run", "pulse_demo", "--source-key", "k1"], generated, **env)
    assert "pulse_demo succeeded" in done.stdout
    assert '"run_count": 1' in done.stdout
    run([str(BIN / "harvester"), "schedule", "check", "pulse_demo/schedule_snippet.yaml"], generated, **env)
    listed = run([str(BIN / "harvester"), "runs", "--json"], generated, **env)
    assert [(r["collector"], r["status"], r["records"]) for r in json.loads(listed.stdout)] == [
        ("pulse_demo", "succeeded", 1)
    ]
