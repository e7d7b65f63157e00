"""A scheduled probe that fails alerts once (check_failed) through the scheduler's alert loop, and once
more when it passes again (check_passed)."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from stack import wait_until

from harvester import Harvester, Settings
from harvester.cli.check_alerts import check_statuses
from harvester.execution.checks import entry_label, entry_target, probe_key
from harvester.history.checks import CheckResult, CheckStore
from harvester.registry import Registry
from harvester.schedule.loader import parse_schedule_text

_spec = importlib.util.spec_from_file_location("alert_receivers", Path(__file__).parents[1] / "alerts" / "conftest.py")
assert _spec is not None
assert _spec.loader is not None
receivers_module = importlib.util.module_from_spec(_spec)
sys.modules["alert_receivers"] = receivers_module
_spec.loader.exec_module(receivers_module)

SCHEDULE = """\
groups:
  web:
    alerts: [ops]
    check: every 1s
    tasks:
      - collector: probe_flag
        schedule: daily
        params: {flag: FLAG}
      - collector: probe_ok
        schedule: daily
        check: every 1h
  quiet:
    tasks:
      - collector: probe_denied
        schedule: daily
"""


@pytest.fixture
def receiver():
    got = receivers_module.Receiver()
    stop = receivers_module.start_receiver(got)
    yield got
    stop()


def test_the_statuses_the_alert_loop_reads_are_the_scheduled_probes_only(tmp_path):
    from probe_collectors import ProbeDenied, ProbeFlag, ProbeOk

    hv = Harvester(Settings(data_dir=tmp_path / "data"), Registry([ProbeFlag, ProbeOk, ProbeDenied]))
    hv.store.upgrade()
    schedule = parse_schedule_text(SCHEDULE.replace("FLAG", str(tmp_path / "flag")), hv.registry)
    assert check_statuses(hv, schedule) == []  # nothing probed yet
    at = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    rows = []
    for entry in schedule.entries:
        collector, key = probe_key(hv.registry, entry_target(entry))
        rows.append(CheckResult(collector, key, entry_label(entry), {}, False, "network", "down", at, 0.1))
    CheckStore(hv.store).record(rows, "schedule")
    statuses = check_statuses(hv, schedule)
    hv.close()
    assert sorted((s.collector, s.group, s.ok, s.message) for s in statuses) == [
        ("probe_flag", "web", False, "down"),
        ("probe_ok", "web", False, "down"),
    ]  # probe_denied has no check: its failure (from harvester check) alerts nobody
    assert check_statuses(hv, None) == []


@pytest.mark.slow
@pytest.mark.services
def test_a_failing_scheduled_probe_alerts_once_and_once_more_when_it_passes(probe_stack, receiver, tmp_path):
    stack = probe_stack
    flag = tmp_path / "flag"
    stack.env["HARVESTER_ALERT_TARGETS"] = json.dumps({"ops": {"kind": "webhook", "url": receiver.url}})
    stack.env["HARVESTER_ALERT_INTERVAL"] = "0.5"
    stack.settings.schedule_file.write_text(SCHEDULE.replace("FLAG", str(flag)))
    stack.worker()
    beat = stack.beat()
    store = CheckStore(stack.hv.store)

    def flag_row() -> dict | None:
        return next((r for r in store.latest().values() if r["collector"] == "probe_flag"), None)

    wait_until(lambda: len(receiver.received) >= 1, what="the check_failed alert")
    wait_until(lambda: (flag_row() or {}).get("failures", 0) >= 4, what="4 failed probes in a row")
    time.sleep(1.5)  # three more alert passes: still the one alert
    assert [r.json["event"] for r in receiver.received] == ["check_failed"], beat.output()[-3000:]
    alert = receiver.received[0].json
    assert alert["incident"]["subject"].startswith("probe_flag")
    flag.write_text("up")
    wait_until(lambda: len(receiver.received) >= 2, what="the check_passed alert")
    assert [r.json["event"] for r in receiver.received] == ["check_failed", "check_passed"]
