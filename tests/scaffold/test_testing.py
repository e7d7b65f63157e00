"""harvester.testing: a collector through the real runner on a throwaway database, no server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from pydantic import BaseModel

from harvester import Collector, ConfigError, FailureCategory, testing
from harvester.errors import ParamsError, RegistryError
from harvester.testing import CollectorHarness, run_collector

collector_harness = testing.collector_harness  # the plugin's fixture, as `pytest_plugins` would provide it


class Counter(Collector):
    name = "counter"

    class Params(BaseModel):
        source: str = "a"

    def collect(self) -> dict[str, Any]:
        count = self.state.get("count", 0) + 1
        self.state["count"] = count
        self.emit([{"id": self.params.source, "count": count}])
        return {"count": count}


class AlwaysDown(Collector):
    name = "always_down"
    retries = 1

    def collect(self) -> None:
        raise ConnectionError("no route to host")


class Misconfigured(Collector):
    name = "misconfigured"

    def validate_config(self) -> None:
        raise ConfigError("token is missing")


def test_run_collector_returns_result_run_records_and_state(tmp_path):
    outcome = run_collector(Counter, {"source": "x"}, data_dir=tmp_path)
    assert outcome.ok
    assert (outcome.status, outcome.result, outcome.exit_code) == ("succeeded", {"count": 1}, 0)
    assert outcome.records == {"x": {"id": "x", "count": 1}}
    assert outcome.records_emitted == 1
    assert outcome.state == {"count": 1}
    assert outcome.run["collector"] == "counter"
    assert outcome.run["params"] == {"source": "x"}
    assert [a["status"] for a in outcome.attempts] == ["succeeded"]


def test_the_same_data_dir_carries_state_between_runs(tmp_path):
    run_collector(Counter, data_dir=tmp_path)
    assert run_collector(Counter, data_dir=tmp_path).result == {"count": 2}


def test_state_is_per_params(collector_harness):
    collector_harness.run(Counter, source="a")
    collector_harness.run(Counter, source="a")
    collector_harness.run(Counter, {"source": "b"})
    assert collector_harness.state(Counter, {"source": "a"}) == {"count": 2}
    assert collector_harness.state("counter", {"source": "b"}) == {"count": 1}
    assert collector_harness.records(Counter) == {"a": {"id": "a", "count": 2}, "b": {"id": "b", "count": 1}}
    assert [r["status"] for r in collector_harness.runs(Counter)] == ["succeeded"] * 3
    assert len(collector_harness.runs()) == 3


def test_retryable_failures_are_retried_without_waiting(collector_harness):
    outcome = collector_harness.run(AlwaysDown)
    assert (outcome.status, outcome.category, outcome.exit_code) == ("failed", FailureCategory.NETWORK, 1)
    assert [a["status"] for a in outcome.attempts] == ["retrying", "failed"]
    assert isinstance(outcome.error, ConnectionError)
    assert outcome.run["error_phase"] == "collect"
    assert outcome.result is None


def test_a_config_error_fails_at_once_with_exit_code_2(tmp_path):
    outcome = run_collector(Misconfigured, data_dir=tmp_path)
    assert (outcome.status, outcome.exit_code) == ("failed", 2)
    assert (outcome.run["error_category"], outcome.run["error_phase"]) == ("config", "validate")
    assert "token is missing" in outcome.run["error_message"]


def test_invalid_params_raise_before_anything_runs(collector_harness):
    with pytest.raises(ParamsError, match="unknown params for collector 'counter': colour"):
        collector_harness.run(Counter, colour="red")
    assert collector_harness.runs() == []


def test_collectors_by_module_name_and_unknown_names():
    with CollectorHarness("harvester.examples") as harness:
        assert "system_metrics" in harness.app.registry
        with pytest.raises(RegistryError, match="unknown collector 'nope'"):
            harness.run("nope")


def test_settings_come_from_arguments_never_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HARVESTER_DATABASE_URL", "postgresql://production.invalid/harvester")
    monkeypatch.setenv("HARVESTER_BROKER_URL", "redis://production.invalid:6379/0")
    monkeypatch.setenv("HARVESTER_RETRIES", "9")
    (tmp_path / ".env").write_text("HARVESTER_LOCK_TTL=1\n")
    with CollectorHarness(Counter, data_dir=tmp_path / "db", retries=1) as harness:
        settings = harness.app.settings
        assert settings.database_url == f"sqlite:///{(tmp_path / 'db').resolve() / 'harvester.db'}"
        assert settings.embedded
        assert (settings.retries, settings.lock_ttl, settings.retry_delay) == (1, 60.0, 0.0)
        assert harness.run(Counter).ok


def test_a_temporary_folder_is_removed_on_close():
    harness = CollectorHarness(Counter)
    folder = harness.app.settings.data_dir
    assert harness.run(Counter).ok
    harness.close()
    assert not folder.exists()


def test_the_fixture_works_as_a_pytest_plugin(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["harvester.testing"]\n')
    (tmp_path / "test_plugin.py").write_text(
        textwrap.dedent(
            """
            from harvester.examples.system import SystemMetrics

            def test_it(collector_harness):
                outcome = collector_harness.run(SystemMetrics)
                assert outcome.ok and outcome.records_emitted > 0
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_run_collector_registers_more_collectors_with_also(tmp_path):
    outcome = run_collector(Counter, data_dir=tmp_path, also=[Misconfigured, "harvester.examples"])
    assert outcome.ok
    with CollectorHarness(data_dir=tmp_path) as harness:
        assert harness.runs("counter")[0]["status"] == "succeeded"
