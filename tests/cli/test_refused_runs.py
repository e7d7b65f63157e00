"""A run refused before it exists (unknown collector, invalid params) leaves no run in history: it
is not a failed run of that collector, in `runs`, the dashboard or /metrics."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harvester import Harvester, Settings
from harvester.cli import cli


@pytest.mark.parametrize(
    "args",
    [
        ["run", "nope"],
        ["run", "ok", "--value", "many"],
        ["run", "ok", "--param", "colour=red"],
        ["trigger", "ok", "--param", "value=many"],
        ["run", "secret_probe", "--api-key", "k"],  # required params missing
    ],
)
def test_refused_runs_are_not_recorded(monkeypatch, tmp_path, args):
    monkeypatch.setenv("HARVESTER_COLLECTORS", "sample_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    hv = Harvester(Settings(data_dir=tmp_path / "data", collectors=["sample_collectors"]))
    try:
        hv.store.upgrade()
        assert hv.store.list_runs() == []
    finally:
        hv.close()
