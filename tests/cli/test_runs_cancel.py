"""``harvester runs cancel RUN_ID``: a run that has not ended is cancelled; an ended one exits 1."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harvester import Harvester, Settings
from harvester.cli import cli


@pytest.fixture
def hv(monkeypatch, tmp_path):
    monkeypatch.setenv("HARVESTER_COLLECTORS", "sample_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    made = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"]))
    made.store.upgrade()
    yield made
    made.close()


def test_cancel_a_queued_run_by_its_prefix_then_refuse_the_second_time(hv):
    (run_id,) = hv.submit([hv.request("ok")])  # the embedded broker, no worker: it stays queued
    first = CliRunner().invoke(cli, ["runs", "cancel", run_id[:8]])
    assert first.exit_code == 0, first.output
    assert f"cancelled run {run_id} (it was queued)" in first.stdout
    assert hv.store.get_run(run_id)["status"] == "cancelled"
    second = CliRunner().invoke(cli, ["runs", "cancel", run_id])
    assert second.exit_code == 1
    assert f"run {run_id} was not cancelled: it is cancelled" in second.output


def test_cancel_an_unknown_run_exits_1(hv):
    result = CliRunner().invoke(cli, ["runs", "cancel", "nope"])
    assert result.exit_code == 1
    assert "no run 'nope'" in result.output
