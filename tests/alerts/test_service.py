"""The alert loop: a pass evaluates then delivers, an error in either is logged (never raised into
beat's tick), the tick hook starts one thread, and old resolved incidents are pruned once an hour."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from harvester.alerts.service import AlertService
from harvester.history.alerts import AlertStore

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Fake:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[datetime] = []
        self.fail = fail
        self.store = self
        self.pruned: list[datetime] = []
        self.called = threading.Event()

    def evaluate(self, now: datetime) -> None:
        self._call(now)

    def deliver_due(self, now: datetime) -> int:
        self._call(now)
        return 0

    def _call(self, now: datetime) -> None:
        self.calls.append(now)
        self.called.set()
        if self.fail:
            raise RuntimeError("database gone")

    def prune(self, before: datetime) -> int:
        self.pruned.append(before)
        return 0


def test_an_error_in_a_pass_is_logged_and_the_delivery_still_runs(caplog):
    evaluator, deliverer = Fake(fail=True), Fake()
    service = AlertService(evaluator, deliverer, 1.0, Clock())  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR):
        service.run_once()
    assert len(deliverer.calls) == 1
    assert "alert evaluation failed; trying again in 1 s" in caplog.text


def test_old_incidents_are_pruned_once_an_hour():
    evaluator, clock = Fake(), Clock()
    service = AlertService(evaluator, Fake(), 1.0, clock, retention=timedelta(days=90))  # type: ignore[arg-type]
    for minutes in (0, 30, 59, 61):
        clock.now = T0 + timedelta(minutes=minutes)
        service.run_once()
    assert evaluator.pruned == [T0 - timedelta(days=90), T0 + timedelta(minutes=61) - timedelta(days=90)]


def test_the_tick_hook_starts_one_loop_and_returns_at_once():
    evaluator = Fake()
    service = AlertService(evaluator, Fake(), 60.0, Clock())  # type: ignore[arg-type]
    service()
    service()
    assert evaluator.called.wait(10)
    assert len([t for t in threading.enumerate() if t.name == "harvester-alerts"]) == 1
    service.stop()
    assert not any(t.name == "harvester-alerts" for t in threading.enumerate())


def add(alerts: AlertStore, delivery_id: str, incident_id: int | None, created: datetime, status: str) -> None:
    alerts.add_delivery(
        {
            "id": delivery_id,
            "incident_id": incident_id,
            "event": "test",
            "target": "ops",
            "payload": {},
            "status": status,
            "attempts": 0,
            "created_at": created,
            "next_attempt_at": None,
        }
    )


def test_prune_deletes_resolved_incidents_and_old_tests_but_nothing_open_or_pending(store):
    alerts = AlertStore(store)
    old = T0 - timedelta(days=100)

    def incident(key: str, resolved: datetime | None) -> int:
        row = {
            "key": key,
            "kind": "stale",
            "subject": key,
            "summary": "s",
            "opened_at": old,
            "resolved_at": None,
            "detail": {},
            "targets": [],
        }
        made = alerts.open_incident(row, lambda incident_id: [])
        assert made is not None
        if resolved is not None:
            alerts.resolve_incident(made, resolved, lambda incident_id: [])
        return made

    gone = incident("a", old)
    kept_open = incident("b", None)
    kept_recent = incident("c", T0)
    add(alerts, "d-gone", gone, old, "delivered")
    alerts.record_attempt("d-gone", _attempt(old), status="delivered", next_attempt_at=None)
    add(alerts, "d-open", kept_open, old, "delivered")
    add(alerts, "t-old", None, old, "failed")
    add(alerts, "t-pending", None, old, "pending")
    add(alerts, "t-new", None, T0, "delivered")
    assert alerts.prune(T0 - timedelta(days=90)) == 2
    assert {i["id"] for i in alerts.incidents()} == {kept_open, kept_recent}
    assert {d["id"] for d in alerts.deliveries()} == {"d-open", "t-pending", "t-new"}
    assert alerts.attempts(["d-gone"]) == []


def _attempt(at: datetime) -> dict:
    return {"attempt": 1, "started_at": at, "duration": 0.1, "ok": True, "error": None}
