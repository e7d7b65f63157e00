"""``harvester records NAME``: what a collector emitted, last changed first."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harvester.cli import cli


@pytest.fixture
def invoke(monkeypatch, tmp_path):
    monkeypatch.setenv("HARVESTER_COLLECTORS", "sample_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))

    def run(*args: str):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


def test_records_lists_what_a_run_emitted(invoke):
    assert invoke("run", "emitter", "--token", "t", "--n", "3").exit_code == 0
    result = invoke("records", "emitter")
    assert result.exit_code == 0, result.output
    for n in range(3):
        assert f"t-{n}" in result.stdout
    assert '{"id": "t-0", "version": 1}' in result.stdout


def test_records_json_limit_and_key(invoke):
    invoke("run", "emitter", "--token", "a", "--n", "2")
    invoke("run", "emitter", "--token", "b", "--n", "2")
    rows = json.loads(invoke("records", "emitter", "--json", "--limit", "3").stdout)
    assert len(rows) == 3
    assert set(rows[0]) == {"key", "payload", "first_seen", "last_seen", "run_id"}
    keyed = json.loads(invoke("records", "emitter", "--json", "--key", "a-").stdout)
    assert sorted(r["key"] for r in keyed) == ["a-0", "a-1"]
    assert "no records of emitter with a key starting 'zz'" in invoke("records", "emitter", "--key", "zz").stdout


def test_records_of_an_unknown_collector_exits_1_listing_the_known(invoke):
    result = CliRunner().invoke(cli, ["records", "nope"])
    assert result.exit_code == 1
    assert "unknown collector 'nope'; known: chatty," in result.output
