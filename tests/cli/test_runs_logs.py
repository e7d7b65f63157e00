"""``harvester runs logs``: a run's captured lines, per attempt, and ``--follow`` on a live run."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harvester import Harvester, Settings
from harvester.cli import cli

ENV: dict[str, str] = {}
SUPPORT = str(Path(__file__).resolve().parents[1] / "support")


@pytest.fixture
def hv(monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.INFO)  # what a worker's logging lets through (HARVESTER_LOG_LEVEL)
    ENV.update(HARVESTER_COLLECTORS="sample_collectors", HARVESTER_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=SUPPORT)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    made = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"], retry_delay=0.01))
    made.store.upgrade()
    yield made
    made.close()


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_logs_prints_each_line_with_time_attempt_level_and_logger(hv):
    run_id = hv.run_inline(hv.request("chatty", {"lines": 1, "api_key": "sk-live-31337"})).run_id
    result = invoke("runs", "logs", run_id[:8])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert " #1 INFO    harvester.collector.chatty: starting with key **********" in lines[0]
    assert lines[1].endswith("somelib.http: GET https://example.invalid/items -> 200")
    assert "WARNING" in lines[3]
    assert "sk-live-31337" not in result.output + result.stderr


def test_logs_json_and_one_attempt(hv):
    run_id = hv.run_inline(hv.request("chatty")).run_id
    rows = [json.loads(line) for line in invoke("runs", "logs", run_id, "--json").stdout.splitlines()]
    assert [r["message"] for r in rows] == ["starting with key ", "GET https://example.invalid/items -> 200", "done"]
    assert set(rows[0]) == {"attempt", "logged_at", "level", "logger", "message"}
    assert invoke("runs", "logs", run_id, "--attempt", "2").output == ""


def test_logs_of_an_unknown_run_exits_1(hv):
    result = CliRunner().invoke(cli, ["runs", "logs", "nope"])
    assert result.exit_code == 1
    assert "no run 'nope'" in result.output


def test_follow_tails_a_running_run_until_it_ends(hv, tmp_path):
    hold = tmp_path / "hold"
    hold.mkdir()
    request = hv.request("chatty", {"hold": str(hold), "lines": 2})
    running = threading.Thread(target=hv.run_inline, args=(request,))
    running.start()
    deadline = time.monotonic() + 20
    while not (hold / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.02)

    def release() -> None:
        time.sleep(1.5)  # the first lines reach history (flushed after a second) before the rest
        (hold / "release").touch()

    threading.Thread(target=release).start()
    started = time.monotonic()
    follow = [sys.executable, "-m", "harvester", "runs", "logs", request.run_id, "--follow", "--interval", "0.1"]
    done = subprocess.run(follow, capture_output=True, text=True, timeout=60, check=False, env=os.environ | ENV)
    running.join(timeout=20)
    assert done.returncode == 0, done.stdout + done.stderr
    assert time.monotonic() - started >= 1.0  # it waited for the run rather than printing and leaving
    messages = [line.split(": ", 1)[1] for line in done.stdout.splitlines()]
    assert messages == ["starting with key ", "GET https://example.invalid/items -> 200", "line 0", "line 1", "done"]
