"""A delivery that comes after the run's expiry does not run it; recovery expires what no delivery
reached; a failed expiry write loses nothing (the next pass does it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from harvester.execution.requests import new_run
from harvester.execution.runner import EXIT_FAILED
from harvester.history.engine import DatabaseError, utcnow
from harvester.history.store import Store


def record(hv, expires: float) -> str:
    request = replace(hv.request("ok", {"token": "late"}), expires=expires)
    hv.store.create_runs([new_run(hv.registry, request)])
    return request.run_id


def test_a_late_delivery_records_the_run_expired_and_does_not_run_it(hv):
    request = replace(hv.request("ok", {"token": "late"}), expires=0.000001)
    hv.store.create_runs([new_run(hv.registry, request)])
    result = hv.runner.execute(request)
    assert (result.status, result.exit_code) == ("expired", EXIT_FAILED)
    row = hv.store.get_run(request.run_id)
    assert (row["status"], row["started_at"], row["result"]) == ("expired", None, None)


def test_recovery_expires_a_run_no_delivery_reached(hv):
    run_id = record(hv, 0.000001)
    report = hv.recovery.run(utcnow() + timedelta(seconds=1))
    assert report.expired == 1
    assert hv.store.get_run(run_id)["status"] == "expired"


def test_a_failed_expiry_write_leaves_the_run_due_for_the_next_pass(hv, monkeypatch):
    run_id = record(hv, 0.000001)
    later = utcnow() + timedelta(seconds=1)

    def down(self, now, limit=500):
        raise DatabaseError("UPDATE runs", {}, ConnectionRefusedError("history database unreachable"))

    with monkeypatch.context() as patched:
        patched.setattr(Store, "expire_due", down)
        with pytest.raises(DatabaseError):
            hv.recovery.run(later)  # beat's loop logs it and tries again next pass
    assert hv.store.get_run(run_id)["status"] == "queued"
    assert hv.recovery.run(later).expired == 1
    assert hv.store.get_run(run_id)["status"] == "expired"
