"""`harvester beat` and `up` at start: a schedule file named by HARVESTER_SCHEDULE_FILE must exist."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harvester.cli import cli


@pytest.mark.parametrize("command", ["beat", "worker", "up"])
def test_a_named_schedule_file_that_does_not_exist_stops_start_up(command, monkeypatch, tmp_path):
    monkeypatch.setenv("HARVESTER_COLLECTORS", "sample_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HARVESTER_SCHEDULE_FILE", str(tmp_path / "schedulle.yaml"))
    result = CliRunner().invoke(cli, [command], catch_exceptions=False)
    assert result.exit_code == 2
    assert f"HARVESTER_SCHEDULE_FILE names {tmp_path / 'schedulle.yaml'}, which does not exist" in result.output
