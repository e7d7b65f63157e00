"""``harvester api`` (refuses a non-loopback address without a token) and ``harvester flower``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from harvester.cli import cli


@pytest.fixture
def served(monkeypatch):
    calls = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: calls.append((app, kwargs)))
    return calls


def test_api_binds_loopback_port_8000_by_default(served):
    result = CliRunner().invoke(cli, ["api"])
    assert result.exit_code == 0, result.output
    ((app, options),) = served
    assert isinstance(app, FastAPI)
    assert (options["host"], options["port"], options["log_config"]) == ("127.0.0.1", 8000, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "api.example.com"])
def test_api_refuses_a_non_loopback_address_without_a_token(served, host):
    result = CliRunner().invoke(cli, ["api", "--host", host, "--port", "8080"])
    assert result.exit_code == 2
    assert f"refusing to serve the API on {host} without a token: set HARVESTER_API_TOKEN" in result.output
    assert served == []


def test_api_serves_any_address_with_a_token(served, monkeypatch):
    monkeypatch.setenv("HARVESTER_API_TOKEN", "t0k3n")
    result = CliRunner().invoke(cli, ["api", "--host", "0.0.0.0", "--port", "8080", "--loglevel", "WARNING"])
    assert result.exit_code == 0, result.output
    ((_, options),) = served
    assert (options["host"], options["port"], options["log_level"]) == ("0.0.0.0", 8080, "warning")


def test_flower_without_the_extra_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    result = CliRunner().invoke(cli, ["flower"])
    assert result.exit_code == 1
    assert "Flower is not installed; it is an optional extra: pip install 'harvester[flower]'" in result.output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_flower_serves_harvesters_celery_app_on_loopback(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVESTER_")}
    log = (tmp_path / "flower.log").open("wb")
    flower = subprocess.Popen(
        [sys.executable, "-m", "harvester", "flower", f"--port={port}"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        answer = None
        while time.monotonic() < deadline and answer is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=2)
            except httpx.TransportError:
                assert flower.poll() is None, (tmp_path / "flower.log").read_text()
                time.sleep(0.2)
        assert answer is not None
        assert answer.text == "OK"
        output = (tmp_path / "flower.log").read_text()
        assert f"Visit me at http://127.0.0.1:{port}" in output
        assert "harvester.run" in output
    finally:
        os.killpg(flower.pid, signal.SIGTERM)
        flower.wait(timeout=10)
        log.close()
