"""harvester backfill in this process (click's runner, no worker): the plan it prints, what it
refuses, and a broker that refuses a run (recorded, sent later by recovery)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harvester import Harvester, Settings
from harvester.cli import cli
from harvester.cli.backfill_runs import Loop, StopRequest, make_plan
from harvester.execution.dispatcher import DispatchError, InlineDispatcher
from harvester.execution.requests import new_run
from harvester.execution.runner import Runner

ENV = {"HARVESTER_COLLECTORS": "backfill_collectors,sample_collectors"}


@pytest.fixture
def hv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    made = Harvester(Settings())
    made.store.upgrade()
    yield made
    made.close()


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["backfill", *args], catch_exceptions=False)


def run_day(hv: Harvester, day: str, batch_id: str = "backfill:earlier") -> str:
    request = replace(hv.request("daily", {"day": day}, trigger="backfill"), batch_id=batch_id)
    return hv.run_inline(request).run_id


def test_dry_run_lists_what_would_run_and_skips_what_succeeded(hv):
    done = run_day(hv, "2026-01-02")
    recorded = replace(hv.request("daily", {"day": "2026-01-03"}, trigger="backfill"), batch_id="backfill:x")
    hv.store.create_runs([new_run(hv.registry, recorded)])
    result = invoke("daily", "--from", "2026-01-01", "--to", "2026-01-04", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2026-01-01  to run"
    assert lines[1] == f"2026-01-02  succeeded before: skipped (run {done})"
    assert lines[2] == f"2026-01-03  queued: waited for (run {recorded.run_id})"
    assert lines[4].startswith("2 of 4 partitions to run (backfill:")
    assert len(hv.store.list_runs()) == 2  # a dry run records nothing


def test_dry_run_json_and_force(hv):
    run_day(hv, "2026-01-01")
    plain = json.loads(invoke("daily", "--from", "2026-01-01", "--to", "2026-01-02", "--dry-run", "--json").output)
    assert [r["status"] for r in plain["runs"]] == ["already", "todo"]
    forced = invoke("daily", "--from", "2026-01-01", "--to", "2026-01-02", "--dry-run", "--json", "--force")
    assert [r["status"] for r in json.loads(forced.output)["runs"]] == ["todo", "todo"]


def test_other_params_are_part_of_a_partition_s_identity(hv):
    run_day(hv, "2026-01-01")  # region eu, the default
    result = invoke("daily", "--from", "2026-01-01", "--to", "2026-01-01", "--dry-run", "--region", "us")
    assert result.output.startswith("2026-01-01  to run")
    same = invoke("daily", "--from", "2026-01-01", "--to", "2026-01-01", "--dry-run", "--param", "region=eu")
    assert "succeeded before: skipped" in same.output


@pytest.mark.usefixtures("hv")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ok", "--from", "1", "--to", "2"], "collector 'ok' declares no partition param: set e.g. partition"),
        (["dayly", "--from", "1", "--to", "2"], "unknown collector 'dayly' (did you mean 'daily'?)"),
        (["daily", "--from", "2026-01-01", "--to", "2026-01-02", "--step", "1mo"], "step '1mo' does not fit a date"),
        (["daily", "--from", "2026-01-02", "--to", "2026-01-01"], "--to 2026-01-01 is before --from 2026-01-02"),
        (
            ["daily", "--from", "2026-01-01", "--to", "2026-01-02", "--param", "day=2026-01-01"],
            "'day' is the partition",
        ),
        (
            ["daily", "--from", "2026-01-01", "--to", "2026-01-02", "--delay", "soon"],
            "'--delay': 'soon' is not a valid",
        ),
        (["daily", "--from", "2026-01-01", "--to", "2026-01-02", "--colour", "red"], "No such option '--colour'"),
    ],
)
def test_bad_input_exits_2_naming_what_is_wrong(args: list[str], message: str):
    result = CliRunner().invoke(cli, ["backfill", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_run_the_broker_refuses_stays_recorded_and_counts_as_under_way(hv, monkeypatch):
    """The broker refuses every message: each run is recorded queued (recovery sends it once the
    broker is back; here a runner in this process plays that part) and the backfill goes on."""
    runner = Runner(hv.registry, hv.store, hv.heartbeat, hv.runner_config, InlineDispatcher())
    refused: list[str] = []

    def publish(requests: list[Any]) -> None:
        for request in requests:
            assert hv.store.get_run(request.run_id)["status"] == "queued"
            runner.execute(request)  # what recovery does later, once the broker is back
        raise DispatchError("connection refused")

    monkeypatch.setattr(hv.dispatcher, "publish", publish)
    plan = make_plan(hv, "daily", {}, "day", ["2026-01-01", "2026-01-02", "2026-01-03"], "backfill:t", False)
    Loop(hv, plan, 2, StopRequest(), on_dispatch_error=refused.append, poll=0.01).run()
    assert refused == ["connection refused"] * 3
    assert [p.status for p in plan.partitions] == ["succeeded"] * 3
    assert {r["batch_id"] for r in hv.store.list_runs()} == {"backfill:t"}


def test_a_stop_request_submits_no_more(hv):
    plan = make_plan(hv, "daily", {}, "day", ["2026-01-01", "2026-01-02"], "backfill:t", False)
    stop = StopRequest()
    stop(2, None)  # Ctrl-C before the first submit
    Loop(hv, plan, 1, stop, poll=0.01).run()
    assert [p.status for p in plan.partitions] == ["todo", "todo"]
    assert hv.store.list_runs() == []
    with pytest.raises(KeyboardInterrupt):
        stop(2, None)  # the second one leaves at once


def test_a_partition_whose_run_has_not_ended_is_waited_for_and_counts_against_concurrency(hv, monkeypatch):
    """Resumed while an earlier run of day 1 is still queued: the backfill adopts that run (no
    second run of day 1), and with --concurrency 1 sends day 2 only once it ended."""
    runner = Runner(hv.registry, hv.store, hv.heartbeat, hv.runner_config, InlineDispatcher())
    earlier = replace(hv.request("daily", {"day": "2026-01-01"}, trigger="backfill"), batch_id="backfill:t")
    hv.store.create_runs([new_run(hv.registry, earlier)])
    sent: list[str] = []

    def publish(requests: list[Any]) -> None:
        assert hv.store.get_run(earlier.run_id)["status"] == "succeeded"  # day 1 ended first
        sent.extend(r.params["day"] for r in requests)
        for request in requests:
            runner.execute(request)

    def worker_takes_the_earlier_run(plan: Any) -> None:
        if hv.store.get_run(earlier.run_id)["status"] == "queued":
            runner.execute(earlier)

    monkeypatch.setattr(hv.dispatcher, "publish", publish)
    plan = make_plan(hv, "daily", {}, "day", ["2026-01-01", "2026-01-02"], "backfill:t", False)
    assert [(p.status, p.run_id) for p in plan.partitions] == [("queued", earlier.run_id), ("todo", None)]
    Loop(hv, plan, 1, StopRequest(), on_change=worker_takes_the_earlier_run, poll=0.01).run()
    assert sent == ["2026-01-02"]
    assert [p.status for p in plan.partitions] == ["succeeded", "succeeded"]
    assert len(hv.store.list_runs()) == 2


def test_runs_json_shows_the_backfill_of_each_run(hv):
    run_day(hv, "2026-01-01", "backfill:abc")
    rows = json.loads(CliRunner().invoke(cli, ["runs", "--json"], catch_exceptions=False).output)
    assert [(r["trigger"], r["batch_id"]) for r in rows] == [("backfill", "backfill:abc")]
