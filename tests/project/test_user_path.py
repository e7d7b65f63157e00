"""The user path, as a new user takes it, in an empty folder with a fresh venv built from the package
(no PYTHONPATH, no HARVESTER_* variable, no site packages of ours). Four commands, the fifth to look:

    pip install <harvester>        # here: this checkout, pinned by requirements-run.lock
    harvester init demo            # here with --schedule "every 10s", not to wait a minute
    cd demo
    harvester up                   # in the background
    harvester runs                 # the collector ran on schedule (the dashboard shows it too)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
RUN_LOCK = REPO / "requirements-run.lock"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def user_env(venv: Path) -> dict[str, str]:
    """The user's shell: the venv's bin first on PATH, nothing of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARVESTER_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def shell(cwd: Path, env: dict[str, str], *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with this checkout installed as a user installs it (a copy, so the build leaves
    nothing in the checkout); pip's own cache keeps a second session quick."""
    base = tmp_path_factory.mktemp("user-path")
    source = base / "harvester-src"
    shutil.copytree(REPO / "harvester", source / "harvester", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = user_env(venv)
    shell(base, env, "pip", "install", "--quiet", "--no-compile", "-c", str(RUN_LOCK), str(source), timeout=600)
    return venv


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def started(venv: Path, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], int]]:
    """`harvester init demo`, `cd demo`, `harvester up` in the background; everything it started is
    stopped at the end, by PID."""
    env = user_env(venv)
    made = shell(tmp_path, env, "harvester", "init", "demo", "--schedule", "every 10s")
    assert "next: cd demo && harvester up" in made.stdout
    demo, port = tmp_path / "demo", free_port()
    log = (tmp_path / "up.log").open("w")
    up = subprocess.Popen(
        ["harvester", "up", "--api-port", str(port)],
        cwd=demo,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield demo, env, port
    finally:
        stop(up)
        log.close()
        print((tmp_path / "up.log").read_text()[-4000:])


def stop(up: subprocess.Popen[bytes]) -> None:
    """SIGTERM to `up` (it stops its worker, beat and API), then SIGKILL to any process left."""
    try:
        family = [up.pid, *(child.pid for child in psutil.Process(up.pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        family = [up.pid]
    up.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        up.wait(timeout=60)
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    up.wait(timeout=10)


def scheduled_runs(demo: Path, env: dict[str, str]) -> list[dict[str, object]]:
    done = subprocess.run(
        ["harvester", "runs", "--json"], cwd=demo, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        return []
    return [r for r in json.loads(done.stdout) if r["collector"] == "hello" and r["trigger"] == "schedule"]


def page(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            return str(answer.read().decode())
    except OSError:
        return ""


def test_pip_install_init_up_and_the_collector_runs_on_schedule(started):
    demo, env, port = started
    deadline = time.monotonic() + 240  # a loaded machine: generous, never a timing assertion
    succeeded: list[dict[str, object]] = []
    while time.monotonic() < deadline and not succeeded:
        succeeded = [r for r in scheduled_runs(demo, env) if r["status"] == "succeeded"]
        time.sleep(2)
    assert succeeded, f"no scheduled run of hello succeeded; runs: {scheduled_runs(demo, env)}"
    assert succeeded[0]["result"] == {"source_key": "default", "run_count": succeeded[0]["result"]["run_count"]}
    dashboard = ""
    while time.monotonic() < deadline and "hello" not in dashboard:
        dashboard = page(port)
        time.sleep(1)
    assert "hello" in dashboard
    assert (demo / ".harvester" / "harvester.db").is_file()  # the project's data folder, not the cwd's
