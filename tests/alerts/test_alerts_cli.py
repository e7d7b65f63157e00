"""``harvester alerts test TARGET``, ``alerts targets`` and ``alerts list``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harvester.alerts.targets import verify
from harvester.cli import cli


@pytest.fixture
def invoke(monkeypatch, tmp_path, receiver, mailbox):
    targets = {
        "ops": {"kind": "webhook", "url": receiver.url, "secret": "${HOOK_SECRET}"},
        "mail": {"kind": "email", "host": mailbox.host, "port": mailbox.port, "sender": "h@x", "to": ["o@x"]},
        "plain": {"kind": "email", "host": mailbox.host, "port": mailbox.port, "sender": "h@x", "to": ["o@x"]},
    }
    targets["plain"]["security"] = "none"
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    monkeypatch.setenv("HARVESTER_ALERT_TARGETS", json.dumps(targets))
    monkeypatch.setenv("HARVESTER_COLLECTORS", "sample_collectors")
    monkeypatch.setenv("HARVESTER_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run


def test_alerts_test_sends_a_signed_sample_and_records_it(invoke, receiver):
    result = invoke("alerts", "test", "ops")
    assert result.exit_code == 0, result.output
    assert "ops (webhook): delivered" in result.output
    (got,) = receiver.received
    assert got.json["event"] == "test"
    assert verify(got.body, "s3cret", got.headers["X-Harvester-Signature"])


def test_alerts_test_by_email(invoke, mailbox):
    result = invoke("alerts", "test", "plain")
    assert result.exit_code == 0, result.output
    assert mailbox.messages[0]["Subject"] == "[harvester] TEST plain"


def test_a_failed_test_says_why_and_exits_1(invoke, receiver):
    receiver.statuses = [503]
    result = invoke("alerts", "test", "ops")
    assert result.exit_code == 1
    assert "ops (webhook): not delivered: HTTP 503" in result.output
    # the SMTP server speaks no STARTTLS: the default security refuses to send in the clear
    result = invoke("alerts", "test", "mail")
    assert result.exit_code == 1
    assert "mail (email): not delivered: SMTP" in result.output


def test_an_unknown_target_lists_the_defined_ones(invoke):
    result = invoke("alerts", "test", "nope")
    assert result.exit_code == 2
    assert "no alert target named 'nope'; defined: mail, ops, plain" in result.output


def test_targets_are_listed_without_secrets(invoke, receiver):
    result = invoke("alerts", "targets")
    assert result.exit_code == 0
    assert "ops" in result.output
    assert "webhook" in result.output
    assert "s3cret" not in result.output
    assert "/hook" not in result.output  # a webhook's path may hold a token: only its host is shown
    assert "127.0.0.1" in result.output


def test_the_incident_list_is_empty_at_first(invoke):
    assert "no incidents" in invoke("alerts", "list").output
