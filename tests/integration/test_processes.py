"""The CLI as a user runs it, in subprocesses: a user's own collector module, `trigger --wait`, `up`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.slow]

USER_MODULE = """
from pydantic import BaseModel
from harvester import Collector, ConfigError


class GithubStars(Collector):
    name = "github_stars"
    description = "Stars of one repository (offline stand-in)."

    class Params(BaseModel):
        repo: str
        limit: int = 10

    def validate_config(self):
        if "/" not in self.params.repo:
            raise ConfigError("repo must look like owner/name")

    def collect(self):
        self.emit([{"id": self.params.repo, "stars": 42}], key="id")
        return {"repo": self.params.repo, "stars": 42}
"""


def harvester(env: dict[str, str], cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harvester", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def user_project(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A folder with the user's own collector module, registered only through HARVESTER_COLLECTORS."""
    (tmp_path / "team_collectors.py").write_text(textwrap.dedent(USER_MODULE))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVESTER_")}
    env.update(HARVESTER_COLLECTORS="team_collectors", PYTHONPATH=str(tmp_path))
    return env, tmp_path


def test_user_collector_runs_in_process(user_project):
    env, cwd = user_project
    done = harvester(env, cwd, "run", "github_stars", "--repo", "boostorg/boost")
    assert done.returncode == 0, done.stderr
    assert '"stars": 42' in done.stdout
    bad = harvester(env, cwd, "run", "github_stars", "--repo", "boost")
    assert bad.returncode == 2
    assert "repo must look like owner/name" in bad.stdout
    missing = harvester(env, cwd, "run", "github_stars", "--limit", "3")
    assert missing.returncode == 2
    assert "repo: Field required" in missing.stderr


def test_user_collector_runs_on_a_worker_with_trigger_wait(user_project):
    env, cwd = user_project
    worker = subprocess.Popen(
        [sys.executable, "-m", "harvester", "worker", "-c", "1"],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        done = harvester(env, cwd, "trigger", "github_stars", "--repo", "boostorg/boost", "--wait", "--timeout", "45")
        assert done.returncode == 0, done.stdout + done.stderr
        run_id = done.stdout.splitlines()[0]
        runs = json.loads(harvester(env, cwd, "runs", "--json").stdout)
        assert runs[0]["run_id"] == run_id
        assert runs[0]["status"] == "succeeded"
        assert runs[0]["records"] == 1
        failed = harvester(env, cwd, "trigger", "github_stars", "--repo", "nope", "--wait", "--timeout", "45")
        assert failed.returncode == 2
        assert "repo must look like owner/name" in failed.stdout
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def test_up_runs_examples_and_stops_everything_on_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVESTER_")}
    up = subprocess.Popen(
        [sys.executable, "-m", "harvester", "up", "--no-api"],  # the API has its own end-to-end test
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        finished: dict[str, str] = {}
        while time.monotonic() < deadline and not {"python_packages", "system_metrics"} <= set(finished):
            time.sleep(1)
            listing = harvester(env, tmp_path, "runs", "--json")
            if listing.returncode == 0:
                finished = {
                    r["collector"]: r["status"] for r in json.loads(listing.stdout) if r["status"] == "succeeded"
                }
        assert {"python_packages", "system_metrics"} <= set(finished)
        children = psutil.Process(up.pid).children(recursive=True)
        assert len(children) >= 2  # worker (and its pool) and beat
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
        assert up.returncode == 0, output
        assert "stopping worker and scheduler" in output
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == []
        data = tmp_path / ".harvester"
        assert (data / "harvester.db").exists()
        assert sorted(p.name for p in (data / "broker").iterdir()) == ["control", "queue"]
        assert not (tmp_path / "control").exists()  # kombu's default folder stays unused
    finally:
        if up.poll() is None:
            up.kill()


def test_ctrl_c_of_an_in_process_run_records_it_as_failed(tmp_path):
    from stack import SUPPORT, wait_for_start

    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVESTER_")}
    env.update(HARVESTER_COLLECTORS="sample_collectors", PYTHONPATH=str(SUPPORT))
    markers = tmp_path / "markers"
    markers.mkdir()
    run = subprocess.Popen(
        [sys.executable, "-m", "harvester", "run", "slow", "--marker-dir", str(markers)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_start(markers)
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=30)
    assert run.returncode == 1, output
    (row,) = json.loads(harvester(env, tmp_path, "runs", "--json").stdout)
    assert (row["status"], row["error_message"]) == ("failed", "interrupted (Ctrl-C)")


def test_unreachable_database_is_a_clear_error_not_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVESTER_")}
    env["HARVESTER_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/nowhere"
    done = harvester(env, tmp_path, "runs")
    assert done.returncode == 1
    assert "error: the history database failed: connection failed" in done.stderr
    assert "Traceback" not in done.stderr
