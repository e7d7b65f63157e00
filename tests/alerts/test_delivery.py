"""The outbox: each alert delivered once, retried with backoff when the target fails, every attempt recorded."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from harvester.alerts.config import WebhookTarget
from harvester.alerts.delivery import Deliverer, DeliveryPolicy
from harvester.alerts.message import payload
from harvester.alerts.targets import DeliveryError
from harvester.history.alerts import AlertStore

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
POLICY = DeliveryPolicy(timeout=2, retry_delay=10, retry_max_delay=60, max_attempts=3)


def add(alerts: AlertStore, delivery_id: str = "d1", target: str = "ops") -> None:
    incident = {"id": None, "key": "test", "kind": "test", "subject": "s", "opened_at": T0}
    alerts.add_delivery(
        {
            "id": delivery_id,
            "incident_id": None,
            "event": "test",
            "target": target,
            "payload": payload(delivery_id, "test", incident, "hello", T0),
            "status": "pending",
            "attempts": 0,
            "created_at": T0,
            "next_attempt_at": T0,
        }
    )


@pytest.mark.parametrize(("attempt", "seconds"), [(1, 10), (2, 20), (3, 40), (4, 60), (10, 60)])
def test_backoff_doubles_up_to_its_bound(attempt, seconds):
    assert POLICY.backoff(attempt) == timedelta(seconds=seconds)


def test_a_target_that_fails_once_gets_the_alert_once_with_two_attempts_recorded(store, receiver):
    alerts = AlertStore(store)
    add(alerts)
    receiver.statuses = [500]
    deliverer = Deliverer(alerts, {"ops": WebhookTarget(kind="webhook", url=receiver.url)}, POLICY)
    assert deliverer.deliver_due(T0) == 1
    assert alerts.delivery("d1")["status"] == "pending"
    assert deliverer.deliver_due(T0 + timedelta(seconds=5)) == 0  # backing off
    assert deliverer.deliver_due(T0 + timedelta(seconds=11)) == 1
    assert deliverer.deliver_due(T0 + timedelta(hours=1)) == 0  # delivered: never again
    delivery = alerts.delivery("d1")
    assert (delivery["status"], delivery["attempts"], delivery["last_error"]) == ("delivered", 2, None)
    attempts = alerts.attempts(["d1"])
    assert [(a["attempt"], a["ok"], a["error"]) for a in attempts] == [(1, False, "HTTP 500"), (2, True, None)]
    assert len(receiver.received) == 2
    assert receiver.received[0].json["id"] == receiver.received[1].json["id"] == "d1"  # the receiver dedupes on it


def test_a_delivery_is_given_up_after_its_attempts(store):
    alerts = AlertStore(store)
    add(alerts)

    def refuse(config, alert, timeout):
        raise DeliveryError("HTTP 503")

    deliverer = Deliverer(alerts, {"ops": WebhookTarget(kind="webhook", url="http://x")}, POLICY, refuse)
    for minutes in (0, 1, 2, 3):
        deliverer.deliver_due(T0 + timedelta(minutes=minutes))
    delivery = alerts.delivery("d1")
    assert (delivery["status"], delivery["attempts"], delivery["last_error"]) == ("failed", 3, "HTTP 503")
    assert delivery["finished_at"] is not None


def test_an_unknown_target_and_a_broken_sender_are_recorded_attempts_not_crashes(store):
    alerts = AlertStore(store)
    add(alerts, "d1", target="gone")
    add(alerts, "d2", target="ops")

    def broken(config, alert, timeout):
        raise KeyError("bug")

    deliverer = Deliverer(alerts, {"ops": WebhookTarget(kind="webhook", url="http://x")}, POLICY, broken)
    assert deliverer.deliver_due(T0) == 2
    assert alerts.delivery("d1")["last_error"] == "no target named 'gone' in HARVESTER_ALERT_TARGETS"
    assert alerts.delivery("d2")["last_error"] == "unexpected KeyError"


def test_two_delivery_loops_send_each_alert_once(store):
    alerts = AlertStore(store)
    for n in range(10):
        add(alerts, f"d{n}")
    sent: list[str] = []
    lock = threading.Lock()

    def record(config, alert, timeout):
        with lock:
            sent.append(alert["id"])

    target = {"ops": WebhookTarget(kind="webhook", url="http://x")}
    loops = [Deliverer(AlertStore(store), target, POLICY, record) for _ in range(2)]
    threads = [threading.Thread(target=loop.deliver_due, args=(T0,)) for loop in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == sorted(f"d{n}" for n in range(10))


def test_a_database_that_refuses_the_attempt_leaves_the_delivery_claimed_then_due_again(store, monkeypatch):
    alerts = AlertStore(store)
    add(alerts)
    target = {"ops": WebhookTarget(kind="webhook", url="http://x")}
    deliverer = Deliverer(alerts, target, POLICY, lambda config, alert, timeout: None)

    def refuse(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(alerts, "record_attempt", refuse)
    with pytest.raises(RuntimeError):
        deliverer.deliver_due(T0)
    monkeypatch.undo()
    assert deliverer.deliver_due(T0 + timedelta(seconds=1)) == 0  # claimed: its lease holds it
    assert deliverer.deliver_due(T0 + POLICY.lease) == 1  # the lease ended: sent again (receivers dedupe)
    assert alerts.delivery("d1")["status"] == "delivered"


def test_a_failing_target_costs_one_attempt_per_pass_and_holds_up_no_other_target(store):
    alerts = AlertStore(store)
    for n in range(3):
        add(alerts, f"down{n}", target="down")
    add(alerts, "up0", target="up")
    sent: list[str] = []

    def sender(config, alert, timeout):
        if config.url == "http://down":
            raise DeliveryError("not reachable: timed out")
        sent.append(alert["id"])

    targets = {name: WebhookTarget(kind="webhook", url=f"http://{name}") for name in ("down", "up")}
    assert Deliverer(alerts, targets, POLICY, sender).deliver_due(T0) == 2
    assert sent == ["up0"]
    assert [alerts.delivery(f"down{n}")["attempts"] for n in range(3)] == [1, 0, 0]  # the others wait their turn
