"""The command line in this process (click's runner): exit codes, params, history output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harvester.cli import cli


@pytest.fixture
def invoke(monkeypatch, tmp_path):
    monkeypatch.setenv("HARVESTER_COLLECTORS", "sample_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HARVESTER_RETRY_DELAY", "0.05")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run


def test_run_succeeds_and_prints_result(invoke):
    result = invoke("run", "ok", "--value", "5")
    assert result.exit_code == 0, result.output
    assert "ok succeeded" in result.output
    assert '"value": 5' in result.output


def test_run_accepts_param_pairs(invoke):
    result = invoke("run", "ok", "--param", "value=9")
    assert result.exit_code == 0, result.output
    assert '"value": 9' in result.output


def test_config_error_exits_2(invoke):
    result = invoke("run", "config_fail")
    assert result.exit_code == 2
    assert "config error in phase validate" in result.output
    assert "source_key must not be empty" in result.output


def test_runtime_failure_exits_1_after_retries(invoke):
    assert invoke("run", "fatal_fail").exit_code == 1
    retried = invoke("run", "retry_fail")
    assert retried.exit_code == 1
    assert "network error in phase collect" in retried.output
    assert "attempt 3" in retried.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "ok", "--value", "many"], "'--value': 'many' is not a valid integer"),
        (["run", "ok", "--param", "value=many"], "value: Input should be a valid integer"),
        (["run", "ok", "--param", "colour=red"], "unknown params for collector 'ok': colour"),
        (["run", "slow"], "marker_dir: Field required"),
        (["run", "okk"], "unknown collector 'okk' (did you mean 'ok'?)"),
        (["trigger", "ok", "--value", "x"], "'x' is not a valid integer"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(invoke, args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_run_help_lists_the_collectors_params(invoke):
    result = invoke("run", "slow", "--help")
    assert result.exit_code == 0
    assert "--marker-dir TEXT" in result.output
    assert "--seconds FLOAT" in result.output
    assert "--param KEY=VALUE" in result.output


def test_runs_json_lists_newest_first_with_documented_fields(invoke):
    invoke("run", "ok", "--value", "1")
    invoke("run", "fatal_fail")
    rows = json.loads(invoke("runs", "--json").output)
    assert [r["collector"] for r in rows] == ["fatal_fail", "ok"]
    documented = {
        "run_id",
        "collector",
        "params",
        "status",
        "attempt",
        "trigger",
        "started_at",
        "finished_at",
        "records",
        "result",
        "error_category",
        "error_phase",
        "error_message",
        "parent_run_id",
    }
    assert documented <= set(rows[0])
    assert rows[0]["error_category"] == "unknown"
    assert rows[1]["params"] == {"token": "", "value": 1}
    failed = json.loads(invoke("runs", "--status", "failed", "--json").output)
    assert [r["collector"] for r in failed] == ["fatal_fail"]
    only_ok = json.loads(invoke("runs", "--collector", "ok", "--json").output)
    assert [r["collector"] for r in only_ok] == ["ok"]
    table = invoke("runs").output
    assert "fatal_fail" in table
    assert "failed" in table


def test_runs_show_lists_attempts(invoke):
    invoke("run", "retry_fail")
    run_id = json.loads(invoke("runs", "--json").output)[0]["run_id"]
    shown = json.loads(invoke("runs", "show", run_id[:8], "--json").output)
    assert [a["status"] for a in shown["attempts"]] == ["retrying", "retrying", "failed"]


def test_runs_prune_deletes_old_finished_runs(invoke):
    invoke("run", "ok")
    assert "deleted 0 runs" in invoke("runs", "prune", "--older-than", "1d").output
    assert "deleted 1 runs" in invoke("runs", "prune", "--older-than", "0s").output
    assert json.loads(invoke("runs", "--json").output) == []
    bad = invoke("runs", "prune", "--older-than", "soon")
    assert bad.exit_code == 2
    assert "not a duration" in bad.output


def test_list_json_describes_params_and_last_status(invoke):
    invoke("run", "ok")
    items = {i["name"]: i for i in json.loads(invoke("list", "--json").output)}
    assert items["ok"]["last_status"] == "succeeded"
    assert items["slow"]["last_status"] is None
    assert {"name": "marker_dir", "type": "str", "default": None, "required": True} in items["slow"]["params"]


def test_server_database_must_be_migrated_explicitly(invoke, monkeypatch, postgres_url):
    from sqlalchemy import text

    from harvester.history.migrate import head
    from harvester.history.store import Store

    empty = postgres_url + "_empty"
    admin = Store(postgres_url.rsplit("/", 1)[0] + "/postgres")
    name = empty.rsplit("/", 1)[1]
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        monkeypatch.setenv("HARVESTER_DATABASE_URL", empty)
        refused = invoke("runs")
        assert refused.exit_code == 1
        assert "run `harvester db upgrade`" in refused.output
        upgraded = invoke("db", "upgrade")
        assert upgraded.exit_code == 0
        assert f"database at revision {head()}" in upgraded.output
        assert invoke("runs").exit_code == 0
    finally:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.close()


def test_run_help_without_a_name_lists_collectors_and_touches_no_database(invoke, tmp_path):
    result = invoke("run", "--help")
    assert result.exit_code == 0
    assert "collectors: chatty, config_fail, emitter, fatal_fail, ok," in result.output
    assert not (tmp_path / "data").exists()
    assert "--value INTEGER" in invoke("run", "ok", "-h").output


def test_bad_setting_is_named_and_exits_2(invoke, monkeypatch):
    monkeypatch.setenv("HARVESTER_CONCURRENCY", "zero")
    result = invoke("list")
    assert result.exit_code == 2
    assert "invalid setting: HARVESTER_CONCURRENCY: Input should be a valid integer" in result.output


def test_broken_collector_module_is_named_and_exits_2(invoke, monkeypatch):
    monkeypatch.setenv("HARVESTER_COLLECTORS", "sample_collectors,no_such_module")
    result = invoke("list")
    assert result.exit_code == 2
    assert "cannot import collector module 'no_such_module'" in result.output


def test_the_cli_does_not_load_the_web_stack():
    """`harvester worker` imports the CLI; every process it forks would carry FastAPI and Jinja2."""
    import subprocess
    import sys

    code = "import sys, harvester.cli; print(sorted(m for m in ('fastapi', 'jinja2', 'uvicorn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_failed_run_shows_its_traceback_with_secrets_masked(invoke):
    failed = invoke("run", "wrong_header", "--api-key", "sk-live-123456")
    assert failed.exit_code == 1
    assert "sk-live-123456" not in failed.output
    run_id = json.loads(invoke("runs", "--json").output)[0]["run_id"]
    shown = invoke("runs", "show", run_id)
    assert "Traceback (most recent call last)" in shown.output
    assert "sample_collectors.py" in shown.output
    assert "in parse_header" in shown.output
    assert "sk-live-123456" not in shown.output
    as_json = json.loads(invoke("runs", "show", run_id, "--json").output)
    assert "KeyError" in as_json["error_traceback"]
    assert "**********" in as_json["error_message"]
    (attempt,) = as_json["attempts"]
    assert attempt["error_traceback"] == as_json["error_traceback"]
    assert "sk-live-123456" not in json.dumps(as_json)


def test_each_retried_attempt_keeps_its_traceback(invoke):
    invoke("run", "retry_fail")
    run_id = json.loads(invoke("runs", "--json").output)[0]["run_id"]
    attempts = json.loads(invoke("runs", "show", run_id, "--json").output)["attempts"]
    assert [a["status"] for a in attempts] == ["retrying", "retrying", "failed"]
    assert all("ConnectionRefusedError" in a["error_traceback"] for a in attempts)


def test_trigger_wait_that_gives_up_says_what_the_run_was_doing(invoke, monkeypatch):
    from harvester.execution.requests import new_run

    def record_only(self, requests):  # no broker, no worker: the run stays queued
        self.store.create_runs([new_run(self.registry, r) for r in requests])

    monkeypatch.setattr("harvester.app.Harvester.submit", record_only)
    result = invoke("trigger", "ok", "--wait", "--timeout", "0.3")
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "still queued after 0s (no worker took it yet: is one running on its queue?)" in said
    assert "harvester runs show" in said


def test_trigger_prints_the_run_id_alone_on_stdout_and_a_message_on_stderr(invoke, monkeypatch):
    from harvester.execution.requests import new_run

    def record_only(self, requests):
        self.store.create_runs([new_run(self.registry, r) for r in requests])
        return [r.run_id for r in requests]

    monkeypatch.setattr("harvester.app.Harvester.submit", record_only)
    result = invoke("trigger", "ok")
    assert result.exit_code == 0
    assert len(result.stdout) == 37  # the run id and its newline
    assert result.stderr.strip() == "Collection task queued for ok"
