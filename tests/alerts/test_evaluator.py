"""The evaluator on a real history: one incident per failing collector, stale entry or gone worker,
routed by the schedule's ``alerts:`` key, recorded with its deliveries in one transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from harvester import Collector
from harvester.alerts.evaluator import LOOKBACK, Evaluator, Sources
from harvester.alerts.events import CheckStatus
from harvester.alerts.routing import Router
from harvester.history.alerts import AlertStore
from harvester.history.models import runs
from harvester.registry import Registry
from harvester.schedule.freshness import entry_key
from harvester.schedule.loader import parse_schedule_text

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


class Stars(Collector):
    name = "stars"

    class Params(BaseModel):
        repo: str = "a/b"


class Weather(Collector):
    name = "weather"


@pytest.fixture
def registry() -> Registry:
    made = Registry()
    made.add(Stars)
    made.add(Weather)
    return made


SCHEDULE = """
groups:
  github:
    alerts: [ops]
    tasks:
      - collector: stars
        schedule: hourly
        freshness: 2h
  weather:
    tasks:
      - collector: weather
        schedule: hourly
        alerts: []
"""


def add_run(store, collector, status, finished_at, *, key=None, message="HTTP 503", params_key=None):
    row = {
        "id": str(uuid.uuid4()),
        "collector": collector,
        "params": {},
        "params_key": params_key or collector,
        "trigger": "schedule" if key else "cli",
        "status": status,
        "attempt": 1,
        "queued_at": finished_at - timedelta(seconds=5),
        "finished_at": finished_at,
        "records": 0,
        "error_category": "upstream" if status == "failed" else None,
        "error_message": message if status == "failed" else None,
        "entry_key": key,
        "force": False,
    }
    with store.engine.begin() as conn:
        conn.execute(runs.insert().values(**row))
    return row["id"]


def make(store, registry, *, workers=None, checks=None, targets=("ops", "mail"), schedule=SCHEDULE):
    loaded = parse_schedule_text(schedule, registry)
    sources = Sources(schedule=lambda: loaded, successes=store.entry_successes, workers=workers, checks=checks)
    evaluator = Evaluator(AlertStore(store), registry, Router(targets), sources)
    return evaluator, loaded


def deliveries(store):
    return sorted((d["event"], d["target"]) for d in AlertStore(store).deliveries())


def test_a_failing_collector_alerts_once_until_it_recovers(store, registry):
    evaluator, loaded = make(store, registry)
    key = entry_key(loaded.entries[0], registry)
    add_run(store, "stars", "failed", T0 - timedelta(minutes=5), key=key)
    evaluator.evaluate(T0)
    assert deliveries(store) == [("run_failed", "ops")]  # its group's `alerts: [ops]`
    for minute in (1, 2, 3):
        add_run(store, "stars", "failed", T0 + timedelta(minutes=minute), key=key)
        evaluator.evaluate(T0 + timedelta(minutes=minute, seconds=30))
    assert deliveries(store) == [("run_failed", "ops")]
    add_run(store, "stars", "succeeded", T0 + timedelta(minutes=4), key=key)
    evaluator.evaluate(T0 + timedelta(minutes=5))
    assert deliveries(store) == [("recovered", "ops"), ("run_failed", "ops")]
    (incident,) = AlertStore(store).incidents()
    assert incident["resolved_at"] == T0 + timedelta(minutes=4)
    assert incident["summary"] == "stars failed (upstream): HTTP 503"
    add_run(store, "stars", "failed", T0 + timedelta(minutes=6), key=key)
    evaluator.evaluate(T0 + timedelta(minutes=7))
    assert len(AlertStore(store).incidents()) == 2  # a new incident after the recovery


def test_routing_a_run_by_hand_goes_to_the_entries_of_its_collector_and_alerts_none_silences(store, registry):
    evaluator, _ = make(store, registry)
    add_run(store, "stars", "failed", T0 - timedelta(minutes=1))  # by hand: no entry key
    add_run(store, "weather", "failed", T0 - timedelta(minutes=1))  # its entry says `alerts: []`
    evaluator.evaluate(T0)
    assert deliveries(store) == [("run_failed", "ops")]
    assert {i["subject"]: i["targets"] for i in AlertStore(store).incidents()} == {"stars": ["ops"], "weather": []}


def test_a_collector_in_no_entry_goes_to_the_default_targets(store, registry):
    evaluator, _ = make(store, registry, schedule="groups: {}")
    add_run(store, "stars", "failed", T0 - timedelta(minutes=1))
    evaluator.evaluate(T0)
    assert deliveries(store) == [("run_failed", "mail"), ("run_failed", "ops")]


def test_runs_older_than_the_lookback_are_not_read_at_start(store, registry):
    evaluator, _ = make(store, registry)
    add_run(store, "stars", "failed", T0 - LOOKBACK - timedelta(minutes=5))
    evaluator.evaluate(T0)
    assert deliveries(store) == []


def test_a_stale_entry_alerts_once_until_it_is_fresh_again(store, registry):
    evaluator, loaded = make(store, registry)
    key = entry_key(loaded.entries[0], registry)
    add_run(store, "stars", "succeeded", T0 - timedelta(hours=3), key=key)
    evaluator.evaluate(T0)
    evaluator.evaluate(T0 + timedelta(minutes=1))
    evaluator.evaluate(T0 + timedelta(minutes=2))
    assert deliveries(store) == [("stale", "ops")]
    add_run(store, "stars", "succeeded", T0 + timedelta(minutes=3), key=key)
    evaluator.evaluate(T0 + timedelta(minutes=4))
    assert deliveries(store) == [("fresh", "ops"), ("stale", "ops")]
    (incident,) = AlertStore(store).incidents()
    assert incident["subject"] == "github/stars"


def test_a_gone_worker_alerts_once_and_again_when_it_answers(store, registry):
    answering = [["w1@a", "w2@b"]]
    evaluator, _ = make(store, registry, workers=lambda: answering[0])
    evaluator.evaluate(T0)
    answering[0] = ["w2@b"]
    evaluator.evaluate(T0 + timedelta(minutes=1))
    assert deliveries(store) == []  # within the grace
    evaluator.evaluate(T0 + timedelta(minutes=3))
    evaluator.evaluate(T0 + timedelta(minutes=4))
    assert deliveries(store) == [("worker_gone", "mail"), ("worker_gone", "ops")]
    answering[0] = ["w1@a", "w2@b"]
    evaluator.evaluate(T0 + timedelta(minutes=5))
    assert deliveries(store)[:2] == [("worker_back", "mail"), ("worker_back", "ops")]


def test_a_ping_that_fails_observes_nothing(store, registry):
    def broken():
        raise ConnectionError("broker down")

    evaluator, _ = make(store, registry, workers=broken)
    evaluator.evaluate(T0)
    assert deliveries(store) == []


def test_a_failed_check_alerts_through_the_checks_source(store, registry):
    statuses = [CheckStatus("stars", False, "401 Unauthorized", T0 - timedelta(minutes=1), params_key="p")]
    evaluator, _ = make(store, registry, checks=lambda: statuses)
    evaluator.evaluate(T0)
    statuses.append(CheckStatus("stars", True, "ok", T0 + timedelta(minutes=1), params_key="p"))
    evaluator.evaluate(T0 + timedelta(minutes=2))
    assert deliveries(store) == [("check_failed", "ops"), ("check_passed", "ops")]


def test_two_evaluators_open_an_incident_once(store, registry):
    first, _ = make(store, registry)
    second, _ = make(store, registry)
    add_run(store, "stars", "failed", T0 - timedelta(minutes=1))
    first.evaluate(T0)
    second.evaluate(T0)
    assert deliveries(store) == [("run_failed", "ops")]
    assert len(AlertStore(store).incidents()) == 1


def test_a_database_error_keeps_the_position_so_the_next_evaluation_alerts(store, registry, monkeypatch):
    evaluator, _ = make(store, registry)
    alerts = evaluator.store
    add_run(store, "stars", "failed", T0 - timedelta(minutes=1))

    def refuse(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(alerts, "open_incident", refuse)
    with pytest.raises(RuntimeError):
        evaluator.evaluate(T0)
    monkeypatch.undo()
    evaluator.evaluate(T0 + timedelta(minutes=10))
    assert deliveries(store) == [("run_failed", "ops")]


def test_the_alert_payload_names_the_incident(store, registry):
    evaluator, _ = make(store, registry)
    run_id = add_run(store, "stars", "failed", T0 - timedelta(minutes=1))
    evaluator.evaluate(T0)
    (delivery,) = AlertStore(store).deliveries()
    alert = delivery["payload"]
    assert alert["id"] == delivery["id"]
    assert alert["event"] == "run_failed"
    assert alert["state"] == "open"
    assert alert["detail"] == {"run_id": run_id, "error_category": "upstream"}
    assert alert["incident"]["kind"] == "run_failed"
    assert alert["incident"]["subject"] == "stars"
