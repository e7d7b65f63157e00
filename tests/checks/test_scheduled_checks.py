"""`check:` in schedule.yaml: beat sends the probes, a real worker makes them and stores the results."""

from __future__ import annotations

import time

import pytest

from harvester.history.checks import CheckStore

pytestmark = [pytest.mark.slow, pytest.mark.services]

SCHEDULE = """\
groups:
  web:
    check: every 2s
    tasks:
      - collector: probe_ok
        schedule: daily
      - collector: probe_denied
        schedule: daily
        params: {token: "${PROBE_TOKEN}"}
"""


def wait_for(read, predicate, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if predicate(value):
            return value
        time.sleep(0.2)
    raise TimeoutError(f"condition not reached; last: {value}")


def test_a_scheduled_check_on_a_real_worker_records_its_result_every_interval(probe_stack):
    stack = probe_stack
    stack.env["PROBE_TOKEN"] = "s3cret-on-the-worker"  # only the worker has it
    stack.settings.schedule_file.write_text(SCHEDULE)
    stack.worker()
    stack.beat()
    store = CheckStore(stack.hv.store)

    def both_failed_twice(rows: dict) -> bool:
        denied = [r for r in rows.values() if r["collector"] == "probe_denied"]
        return len(rows) == 2 and bool(denied) and denied[0]["failures"] >= 2

    rows = wait_for(store.latest, both_failed_twice)
    by_name = {r["collector"]: r for r in rows.values()}
    assert by_name["probe_ok"]["ok"] is True
    assert by_name["probe_ok"]["detail"] == "reachable"
    denied = by_name["probe_denied"]
    assert (denied["ok"], denied["category"], denied["source"]) == (False, "permission", "schedule")
    assert denied["detail"] == "PermissionError: 403 Forbidden: token ********** was refused"  # resolved, masked
    assert denied["label"] == "web (line 7)"
    assert denied["params"] == {"token": "${PROBE_TOKEN}"}
    assert denied["changed_at"] < denied["checked_at"]  # failing since the first probe
    runs = stack.hv.store.list_runs(limit=10)
    assert runs == []  # probes are no runs: nothing collected, nothing in the run history


def test_the_worker_stores_a_sent_probe_and_drops_what_is_no_probe(probe_stack):
    stack = probe_stack
    from harvester.dispatch.celery_app import CHECK_TASK, send_checks
    from harvester.execution.checks import CheckTarget

    worker = stack.worker()
    app = stack.hv.celery
    app.send_task(CHECK_TASK, args=[{"collector": "probe_ok"}], ignore_result=True)  # poison: fields missing
    app.send_task(CHECK_TASK, args=[{"collector": "nope", "params": {}, "label": "x"}], ignore_result=True)
    send_checks(app, _registry(), [CheckTarget("probe_ok", {}, "sent by hand")])
    store = CheckStore(stack.hv.store)
    rows = wait_for(store.latest, lambda rows: len(rows) == 1)
    (row,) = rows.values()
    assert (row["collector"], row["label"], row["ok"], row["source"]) == ("probe_ok", "sent by hand", True, "schedule")
    wait_for(worker.output, lambda out: "check of unknown collector 'nope' dropped" in out)
    assert "poison message" in worker.output()
    assert "not a harvester.check message" in worker.output()


def _registry():
    from probe_collectors import ProbeOk

    from harvester.registry import Registry

    return Registry([ProbeOk])
