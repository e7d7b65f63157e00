"""Collectors on a real worker: success, each failure kind, retries, state, records, secrets."""

from __future__ import annotations

import itertools
import time

import pytest

from harvester.execution.requests import new_run

pytestmark = [pytest.mark.slow, pytest.mark.services]


def test_success_records_result_and_timings(stack):
    stack.worker()
    row = stack.wait(stack.trigger("ok", value=7))
    assert row["status"] == "succeeded"
    assert row["result"] == {"value": 7}
    assert row["attempt"] == 1
    assert row["trigger"] == "api"
    assert row["started_at"] >= row["queued_at"]
    assert row["finished_at"] >= row["started_at"]
    assert row["duration"] is not None
    assert row["progress_done"] == 1
    assert row["progress_total"] == 1
    assert row["error_category"] is None
    assert ":" in row["worker"]
    if stack.kind == "embedded":  # the file broker keeps nothing once a message is consumed
        assert list((stack.settings.data_dir / "broker" / "queue").iterdir()) == []


def test_config_error_fails_at_once_without_retry(stack):
    stack.worker()
    row = stack.wait(stack.trigger("config_fail"))
    assert row["status"] == "failed"
    assert (row["error_category"], row["error_phase"]) == ("config", "validate")
    assert "source_key must not be empty" in row["error_message"]
    assert row["attempt"] == 1


def test_non_retryable_error_fails_once(stack):
    stack.worker()
    row = stack.wait(stack.trigger("fatal_fail"))
    assert row["status"] == "failed"
    assert (row["error_category"], row["error_phase"]) == ("unknown", "collect")
    assert row["attempt"] == 1
    assert [a["status"] for a in stack.hv.store.attempts(row["id"])] == ["failed"]


def test_retryable_error_retries_with_growing_backoff_then_fails(stack):
    stack.worker()
    row = stack.wait(stack.trigger("retry_fail"), timeout=60)
    assert row["status"] == "failed"
    assert (row["error_category"], row["error_phase"]) == ("network", "collect")
    attempts = stack.hv.store.attempts(row["id"])
    assert [a["status"] for a in attempts] == ["retrying", "retrying", "failed"]
    assert row["attempt"] == 3  # RetryFail.retries = 2
    # backoff 0.4 s * 2**(n-1), jitter 50-100%: gaps of at least 0.2 s and then 0.4 s
    gaps = [(b["started_at"] - a["started_at"]).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.2
    assert gaps[1] >= 0.4
    assert 0.2 <= attempts[0]["retry_in"] <= 0.4
    assert 0.4 <= attempts[1]["retry_in"] <= 0.8


def test_state_persists_only_on_success(stack):
    stack.worker()
    assert stack.wait(stack.trigger("stateful", token="s"))["result"] == 1
    failed = stack.wait(stack.trigger("stateful", token="s", fail=True))
    assert failed["status"] == "failed"
    # the failed run incremented its in-memory state, but it was not committed: still 1 -> 2
    assert stack.wait(stack.trigger("stateful", token="s"))["result"] == 2
    # other params have their own state
    assert stack.wait(stack.trigger("stateful", token="other"))["result"] == 1


def test_emit_twice_is_idempotent_and_updates_changes(stack):
    stack.worker()
    store = stack.hv.store
    first = stack.wait(stack.trigger("emitter", token="e", n=3))
    assert first["records"] == 3
    assert store.count_records("emitter") == 3
    before = {r["key"]: r for r in store.get_records("emitter")}
    stack.wait(stack.trigger("emitter", token="e", n=3))
    after = {r["key"]: r for r in store.get_records("emitter")}
    assert store.count_records("emitter") == 3
    assert after == before  # unchanged records: not even last_seen moved
    stack.wait(stack.trigger("emitter", token="e", n=3, version=2))
    changed = {r["key"]: r for r in store.get_records("emitter")}
    assert all(r["payload"]["version"] == 2 for r in changed.values())
    assert all(changed[k]["last_seen"] > before[k]["last_seen"] for k in before)
    assert all(changed[k]["first_seen"] == before[k]["first_seen"] for k in before)


def test_secret_params_are_redacted_in_history_and_logs(stack):
    worker = stack.worker()
    row = stack.wait(stack.trigger("secretive", api_key="hunter2-very-secret"))
    assert row["status"] == "succeeded"
    assert row["result"] == {"key_length": len("hunter2-very-secret")}
    assert row["params"]["api_key"] == "**********"
    assert "hunter2-very-secret" not in worker.output()
    assert "collecting with params" in worker.output()


def test_time_limit_fails_the_run_as_timeout(stack):
    stack.worker()
    row = stack.wait(stack.trigger("too_slow"), timeout=30)
    assert (row["status"], row["error_category"], row["error_phase"]) == ("failed", "timeout", "collect")
    assert row["duration"] < 5


def test_hard_time_limit_kill_is_recorded_by_the_worker(stack):
    """When the pool process is killed at the hard limit, Celery calls the task's on_failure in the worker."""
    from billiard.exceptions import TimeLimitExceeded

    hv = stack.hv
    request = hv.request("ok", {"token": "hard-limit"})
    hv.store.create_runs([new_run(hv.registry, request)])
    hv.store.claim(request.run_id, stale_before=hv.store.get_run(request.run_id)["queued_at"])
    hv.celery.tasks["harvester.run"].on_failure(TimeLimitExceeded(31), request.run_id, (), {}, None)
    row = hv.store.get_run(request.run_id)
    assert (row["status"], row["error_category"], row["error_phase"]) == ("failed", "timeout", "collect")
    assert "hard time limit" in row["error_message"]


def test_the_worker_log_names_collector_and_run_and_a_failure_has_no_celery_traceback(stack):
    worker = stack.worker()
    ok = stack.trigger("ok", token="log-ok")
    failed = stack.trigger("fatal_fail", token="log-failed")
    stack.wait(ok)
    stack.wait(failed)
    deadline = time.monotonic() + 10
    while f"run {failed} of fatal_fail failed" not in worker.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = worker.output()
    assert f"run {ok} of ok succeeded in" in log
    assert f"run {failed} of fatal_fail failed (unknown in collect): RuntimeError" in log
    assert "raised unexpected" not in log
    assert "Traceback" not in log
