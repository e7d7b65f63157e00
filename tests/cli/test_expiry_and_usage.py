"""`trigger --expires`, and what `runs show` and `runs --json` say about expiry and an attempt's cost."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harvester.cli import cli


@pytest.fixture
def invoke(monkeypatch, tmp_path):
    monkeypatch.setenv("HARVESTER_COLLECTORS", "sample_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run


@pytest.fixture
def no_broker(monkeypatch):
    from harvester.execution.requests import new_run

    def record_only(self, requests):  # no broker, no worker: the run stays queued
        self.store.create_runs([new_run(self.registry, r) for r in requests])
        return [r.run_id for r in requests]

    monkeypatch.setattr("harvester.app.Harvester.submit", record_only)


def test_trigger_expires_records_when_the_run_expires(invoke, no_broker):
    result = invoke("trigger", "ok", "--expires", "10m", "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["expires_at"] is not None
    run_id = run["run_id"]
    shown = json.loads(invoke("runs", "show", run_id, "--json").output)
    assert shown["expires_at"] == run["expires_at"]


def test_trigger_without_expires_never_expires(invoke, no_broker):
    run = json.loads(invoke("trigger", "ok", "--json").stdout)
    assert run["expires_at"] is None


def test_a_bad_expires_is_a_usage_error_naming_the_option(invoke, no_broker):
    result = invoke("trigger", "ok", "--expires", "soon")
    assert result.exit_code == 2
    assert "--expires: bad `expires` 'soon'" in result.output


def test_trigger_wait_ends_when_the_run_expired(invoke, monkeypatch):
    from datetime import timedelta

    from harvester.execution.requests import new_run
    from harvester.history.engine import utcnow

    def record_and_expire(self, requests):  # no worker came in time: recovery expired it
        self.store.create_runs([new_run(self.registry, r) for r in requests])
        self.store.expire_due(utcnow() + timedelta(seconds=1))
        return [r.run_id for r in requests]

    monkeypatch.setattr("harvester.app.Harvester.submit", record_and_expire)
    result = invoke("trigger", "ok", "--expires", "0.5", "--wait", "--timeout", "60")
    assert result.exit_code == 1
    assert "ok expired" in result.output
    assert "expired: not started by its expiry" in result.output


def test_runs_show_prints_each_attempts_cpu_and_memory(invoke):
    assert invoke("run", "ok").exit_code == 0
    run_id = json.loads(invoke("runs", "--json").output)[0]["run_id"]
    shown = invoke("runs", "show", run_id)
    assert "cpu " in shown.output
    assert " MiB" in shown.output
    data = json.loads(invoke("runs", "show", run_id, "--json").output)
    assert data["cpu_seconds"] is not None
    assert data["peak_memory"] > 0
    assert data["attempts"][0]["peak_memory"] == data["peak_memory"]
